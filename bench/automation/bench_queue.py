"""Cost of one expected-wait estimate (the automation's queue view) at a large backlog.

    .venv/bin/python bench/automation/bench_queue.py [--waiting 5000] [--agents 10000]

The worker estimates a new conversation's wait once per conversation
(:meth:`omniroute.automation.queue.QueueView.state`). Beside it, in the same run,
the scan the view used to do (every waiting conversation of the pool and every
agent, per estimate), on the same state. Prints microseconds per estimate and the
ratio.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from omniroute.automation.queue import ANY_POOL, QueueView

POOLS = ("support", "sales", "billing", "vip")


def scan(view: QueueView, pool: str, conversation_id: str) -> tuple[int, int, int, int]:
    """The estimate as a scan of every waiting conversation and agent (the baseline)."""
    queue = view.waiting[pool].since
    mine = queue.get(conversation_id)
    ahead = sum(1 for cid, since in queue.items()
                if cid != conversation_id and (mine is None or since <= mine))
    agents = [a for a in view.agents.values()
              if a.available and (a.pool in (pool, ANY_POOL) or pool == ANY_POOL)]
    free = sum(a.free for a in agents)
    concurrency = round(statistics.median([a.capacity for a in agents])) if agents else 1
    return ahead + 1, len(agents), free, concurrency


def build(waiting: int, agents: int) -> QueueView:
    rng = random.Random(7)
    view = QueueView()
    for i in range(agents):
        view.presence(f"agent{i}", POOLS[i % len(POOLS)], rng.random() < 0.7, rng.choice((1, 2, 3)))
    for i in range(waiting):
        view.wait(POOLS[i % len(POOLS)], f"c{i}", float(i))
    for i in range(0, agents, 3):
        view.assigned(f"held{i}", f"agent{i}", POOLS[i % len(POOLS)], 0.0)
    return view


def timed(function: object, asks: list[tuple[str, str]]) -> float:
    started = time.perf_counter()
    for pool, cid in asks:
        function(pool, cid)  # type: ignore[operator]
    return (time.perf_counter() - started) / len(asks) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=5000)
    parser.add_argument("--agents", type=int, default=10000)
    parser.add_argument("--estimates", type=int, default=500)
    args = parser.parse_args()
    view = build(args.waiting, args.agents)
    asks = [(POOLS[i % len(POOLS)], f"c{i * 7 % args.waiting}") for i in range(args.estimates)]
    for pool, cid in asks[:50]:  # the same answers, or the figures mean nothing
        state = view.state(pool, cid, 300.0)
        got = (state.position, state.agents_available, state.free_slots, state.concurrency)
        assert got == scan(view, pool, cid), (pool, cid)
    ours, base = [], []
    for _ in range(5):  # interleaved rounds, best of each
        ours.append(timed(lambda p, c: view.state(p, c, 300.0), asks))
        base.append(timed(lambda p, c: scan(view, p, c), asks))
    print(f"{args.waiting} waiting in {len(POOLS)} pools, {args.agents} agents "
          f"({sum(s.available for s in view.staffing.values())} available)")
    print(f"queue view estimate : {min(ours):10.1f} µs")
    print(f"scan (baseline)     : {min(base):10.1f} µs")
    print(f"ratio scan/view     : {min(base) / min(ours):.0f}x less per estimate")


if __name__ == "__main__":
    main()
