"""Router restart cost at scale: snapshot size, write and load time, and the replay rate
that bounds the tail, for one pool of 100,000 agents and 130,000 waiting items.

    .venv/bin/python bench/routing/bench_restart.py [--agents N] [--waiting N]

    .venv/bin/python bench/routing/bench_restart.py --stall-only   # decide-loop stall only

Restart time of a partition = load of its latest snapshot (+ index rebuild)
+ replay of at most ``--snapshot-every`` inputs (default 5,000). CPU seconds of
this process are reported (the machine may be shared), wall seconds beside them.

Decide-loop stall of a snapshot round: a probe coroutine sleeps 1 ms in a loop while
the round is made, (a) encoded in the loop (how the router did it before), (b) begun
with :func:`omniroute.routing.snapshotter.begin` (forked child) and awaited; the
largest gap between the probe's wake-ups is the time no decision could be made.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

from omniroute.routing import snapshot, snapshotter
from omniroute.routing.engine import decide, new_pool
from omniroute.routing.events import Heartbeat, Route, SetPresence
from omniroute.routing.policy import AgentCapacity, AgentProfile, ChannelRule, PoolPolicy

SKILLS = [f"skill{i:02d}" for i in range(40)]
CAPACITY = AgentCapacity(3, {"email": ChannelRule(2, 1)})


def timed(fn: Any, *args: Any) -> tuple[Any, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn(*args)
    return result, time.process_time() - cpu, time.perf_counter() - wall


def build(agents: int, waiting: int) -> tuple[Any, float]:
    rng = random.Random(3)
    profiles = tuple(AgentProfile(f"a{i:06d}", "p", CAPACITY,
                                  {s: rng.randint(1, 5) for s in rng.sample(SKILLS, 3)},
                                  auto_accept=True) for i in range(agents))
    state = new_pool(PoolPolicy(pool="p", heartbeat_grace_s=1e9), profiles)
    at = 1.0
    for p in profiles:
        at += 1e-6
        decide(state, SetPresence(at=at, event_id=f"p{p.agent_id}", agent_id=p.agent_id,
                                  presence="available"))
    n = 0
    while state.any_ready() or state.queued < waiting:  # every agent full, then the backlog
        at += 1e-6
        n += 1
        decide(state, Route(at=at, event_id=f"r{n}", work_id=f"w{n}", customer_id=f"c{n}",
                            channel="webchat", skills={rng.choice(SKILLS): 1}))
    return state, at


def replay_rate(state: Any, at: float, inputs: int) -> float:
    """Inputs per CPU second for a tail of heartbeats and routes (what a restore folds)."""
    agents = sorted(state.agents)
    cpu = time.process_time()
    for k in range(inputs):
        at += 1e-3
        event: Any = (Heartbeat(at=at, event_id=f"h{k}", agent_id=agents[k % len(agents)])
                      if k % 2 else Route(at=at, event_id=f"t{k}", work_id=f"t{k}",
                                          customer_id="c", channel="webchat"))
        decide(state, event)
    return inputs / (time.process_time() - cpu)


async def probe_while(action: Any) -> tuple[float, float, float]:
    """(largest gap, 99th percentile gap, wall seconds) of a 1 ms probe while ``action``
    (a coroutine function) runs in the same event loop."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(probe())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await action()
    wall = time.perf_counter() - started
    done.set()
    await task
    gaps.sort()
    return gaps[-1], gaps[int(len(gaps) * 0.99)], wall


async def stall(state: Any) -> None:
    """Print the decide-loop stall of one snapshot round, in the loop vs forked."""
    pools = {"p": state}
    inline_parts: list[Any] = []
    forked_parts: list[Any] = []

    async def inline() -> None:
        inline_parts.extend(snapshotter.encode(pools, 123))

    async def forked() -> None:
        begun = time.perf_counter()
        pending = snapshotter.begin(pools, 123)
        print(f"  fork + begin: {(time.perf_counter() - begun) * 1000:.1f} ms")
        forked_parts.extend(await pending.task or [])

    before = await probe_while(inline)
    after = await probe_while(forked)
    assert forked_parts == inline_parts, "the forked round differs from the inline one"
    for name, (worst, p99, wall) in (("in the loop (before)", before),
                                     ("forked child (after)", after)):
        print(f"snapshot round {name}: loop stalled up to {worst * 1000:,.1f} ms "
              f"(p99 gap {p99 * 1000:.1f} ms), round ready after {wall:.2f} s wall")
    print(f"stall ratio before/after: {before[0] / after[0]:,.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--waiting", type=int, default=130_000)
    parser.add_argument("--snapshot-every", type=int, default=5_000)
    parser.add_argument("--stall-only", action="store_true")
    args = parser.parse_args()
    state, at = build(args.agents, args.waiting)
    asyncio.run(stall(state))
    if args.stall_only:
        return
    parts, dump_cpu, dump_wall = timed(snapshot.dump_parts, "p", 123, state)
    size = sum(len(p) for p in parts)
    loaded, load_cpu, load_wall = timed(snapshot.load_parts, parts)
    assert loaded is not None and len(loaded.state.agents) == args.agents
    rate = replay_rate(loaded.state, at, 20_000)
    tail = args.snapshot_every / rate
    print(f"pool of {args.agents:,} agents, {state.queued:,} waiting, "
          f"{len(state.work):,} work items")
    print(f"snapshot: {size / 2**20:.1f} MiB in {len(parts)} record(s) of <= "
          f"{snapshot.MAX_BYTES / 2**20:.0f} MiB; write {dump_cpu:.2f} s CPU "
          f"({dump_wall:.2f} s wall)")
    print(f"load + index rebuild: {load_cpu:.2f} s CPU ({load_wall:.2f} s wall)")
    print(f"replay: {rate:,.0f} inputs/s CPU; tail of {args.snapshot_every:,} inputs "
          f"{tail:.2f} s")
    print(f"restart (load + worst-case tail): {load_cpu + tail:.2f} s CPU")


if __name__ == "__main__":
    main()
