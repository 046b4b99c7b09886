"""Pure routing core: decisions per second, and how the cost per decision grows with
agents (100 -> 100,000) and with waiting items (10 -> 100,000).

    .venv/bin/python bench/routing/bench_core.py [--quick]

Workload per pool: agents with capacity 3 (mixed skills, a third auto-accepting)
log in; then a steady mix of route / accept / resolve keeps the pool busy. A
"decision" is one Decision the core returns (offer, assignment, completion...).
"""

from __future__ import annotations

import argparse
import random
import time

from omniroute.routing.engine import decide, new_pool
from omniroute.routing.events import Accept, Resolve, Route, SetPresence
from omniroute.routing.policy import AgentCapacity, AgentProfile, PoolPolicy

SKILLS = ("billing", "returns", "spanish", "french")


def build(agents: int, backlog: int, seed: int = 7) -> tuple[object, float]:
    rng = random.Random(seed)
    profiles = tuple(
        AgentProfile(f"a{i:06d}", "p", AgentCapacity(3),
                     {SKILLS[i % 4]: 1 + i % 3, SKILLS[(i + 1) % 4]: 1}, auto_accept=i % 3 == 0)
        for i in range(agents))
    state = new_pool(PoolPolicy(pool="p", heartbeat_grace_s=1e9, offer_timeout_s=1e9), profiles)
    at = 1.0
    for p in profiles:
        at += 1e-6
        decide(state, SetPresence(at=at, agent_id=p.agent_id, presence="available"))
    # fill every agent, then queue ``backlog`` items nobody can take yet
    n = 0
    while state.any_ready() or state.queued < backlog:
        at += 1e-6
        skill = {SKILLS[rng.randrange(4)]: 1} if rng.random() < 0.5 else {}
        decide(state, Route(at=at, work_id=f"w{n}", customer_id=f"c{n}", channel="webchat",
                            priority=rng.randrange(3), skills=skill))
        n += 1
    return state, at


def steady(state, at: float, operations: int, seed: int = 11) -> tuple[int, float]:
    """Resolve held work (draining the backlog), accept offers, route new work; only the
    time spent inside ``decide`` is counted."""
    rng = random.Random(seed)
    held = [w for w, i in state.work.items() if i.agent_id is not None]
    decisions = 0
    spent = 0.0
    n = 10**9
    clock = time.perf_counter
    for k in range(operations):
        at += 1e-6
        if k % 2 == 0 and held:
            index = rng.randrange(len(held))
            held[index], held[-1] = held[-1], held[index]
            item = state.work.get(held.pop())
            if item is None or item.agent_id is None:
                continue
            if item.status == "offered":
                event = Accept(at=at, agent_id=item.agent_id, offer_id=item.offer_id,
                               work_id=item.work_id)
                held.append(item.work_id)
            else:
                event = Resolve(at=at, agent_id=item.agent_id, work_id=item.work_id)
        else:
            n += 1
            event = Route(at=at, work_id=f"w{n}", customer_id=f"c{n}", channel="webchat",
                          priority=rng.randrange(3))
        started = clock()
        _, out = decide(state, event)
        spent += clock() - started
        decisions += len(out)
        held.extend(d.work_id for d in out
                    if d.kind.value in ("offered", "assigned") and d.rule != "offer accepted")
    return decisions, spent


def measure(agents: int, backlog: int, operations: int) -> tuple[float, float]:
    state, at = build(agents, backlog)
    decisions, seconds = steady(state, at, operations)
    return decisions / seconds, seconds / decisions * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes (CI smoke run)")
    args = parser.parse_args()
    ops = 20_000 if args.quick else 60_000
    agent_sizes = (100, 1_000, 10_000) if args.quick else (100, 1_000, 10_000, 100_000)
    backlog_sizes = (10, 1_000, 10_000) if args.quick else (10, 1_000, 10_000, 100_000)
    print("routing core: steady route/accept/resolve mix, capacity 3 per agent")
    print(f"{'agents':>8} {'waiting':>8} {'decisions/s':>12} {'us/decision':>12}")
    by_agents = {}
    for agents in agent_sizes:
        rate, cost = measure(agents, 10, ops)
        by_agents[agents] = cost
        print(f"{agents:>8} {10:>8} {rate:>12,.0f} {cost:>12.2f}")
    by_backlog = {}
    for backlog in backlog_sizes:
        rate, cost = measure(1_000, backlog, ops)
        by_backlog[backlog] = cost
        print(f"{1_000:>8} {backlog:>8} {rate:>12,.0f} {cost:>12.2f}")
    big = max(agent_sizes)
    print(f"cost ratio {big:,} vs 1,000 agents: {by_agents[big] / by_agents[1_000]:.2f}x "
          "(target <= 2x)")
    deep = max(backlog_sizes)
    print(f"cost ratio {deep:,} vs 10 waiting: {by_backlog[deep] / by_backlog[10]:.2f}x")
    print(f"decisions/s at 10,000 agents: {1e6 / by_agents[10_000]:,.0f} (target >= 50,000)")


if __name__ == "__main__":
    main()
