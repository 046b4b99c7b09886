"""Pure routing core on a contact-centre mix: does selection stay cheap as agents grow?

    .venv/bin/python bench/routing/bench_mix.py [--quick]

Workload (issue 18): 40 skills with Zipf popularity; every agent has three distinct
skills at levels 1-5; capacity 3 with channel weights and caps (email weighs 2 and
at most 1, whatsapp at most 2); routes need one skill (sometimes two) at a minimum
level 1-3 on webchat/email/whatsapp (60/25/15 %); all agents auto-accept. The pool
is filled to 85 % occupancy, then a steady mix of resolve + route holds it there,
so every route runs selection among idle agents. Only time inside ``decide`` counts,
as CPU time of this process (``time.process_time``): the figures then hold on a
shared, busy machine too (the wall-clock rate is printed beside them). Every size
is built first; the steady phase then runs in rounds (after one warm-up round that
drains the fill's backlog) interleaved across sizes, so a change of the machine's
load hits every size alike; the cost per decision is the median round's (best
round printed too) and the ratio the median of the rounds' ratios.
It also times one route no agent can take (a skill level nobody has), which used
to scan every idle agent.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from omniroute.routing.engine import decide, new_pool
from omniroute.routing.events import Resolve, Route, SetPresence, Tick
from omniroute.routing.policy import AgentCapacity, AgentProfile, ChannelRule, PoolPolicy

SKILLS = [f"skill{i:02d}" for i in range(40)]
WEIGHTS = [1 / (rank + 1) ** 1.1 for rank in range(40)]  # Zipf
CHANNELS = (("webchat", 0.60), ("email", 0.25), ("whatsapp", 0.15))
CAPACITY = AgentCapacity(3, {"email": ChannelRule(2, 1), "whatsapp": ChannelRule(1, 2)})


def profiles(agents: int, rng: random.Random) -> tuple[AgentProfile, ...]:
    found = []
    for i in range(agents):
        skills: dict[str, int] = {}
        while len(skills) < 3:
            skills[rng.choices(SKILLS, WEIGHTS)[0]] = rng.randint(1, 5)
        found.append(AgentProfile(f"a{i:06d}", "p", CAPACITY, skills, auto_accept=True))
    return tuple(found)


def request(n: int, at: float, rng: random.Random, impossible: bool = False) -> Route:
    needs = {rng.choices(SKILLS, WEIGHTS)[0]: rng.randint(1, 3)}
    if rng.random() < 0.2:
        needs[rng.choices(SKILLS, WEIGHTS)[0]] = 1
    if impossible:
        needs = {SKILLS[0]: 9}
    channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
    return Route(at=at, event_id=f"r{n}", work_id=f"w{n}", customer_id=f"c{n}",
                 channel=channel, skills=needs)


def occupancy(state: Any) -> float:
    held = sum(a.load for a in state.agents.values())
    return held / (CAPACITY.total * len(state.agents))


def build(agents: int, seed: int = 7) -> tuple[Any, float, list[str], int]:
    rng = random.Random(seed)
    state = new_pool(PoolPolicy(pool="p", heartbeat_grace_s=1e9, offer_timeout_s=1e9,
                                dedupe_s=5.0), profiles(agents, rng))
    at = 1.0
    for agent_id in sorted(state.agents):
        at += 1e-6
        decide(state, SetPresence(at=at, event_id=f"p{agent_id}", agent_id=agent_id,
                                  presence="available"))
    n, held, load, room = 0, [], 0, CAPACITY.total * agents
    while load < 0.85 * room:  # counted as it grows: a scan per route would be quadratic
        at += 1e-6
        n += 1
        _, out = decide(state, request(n, at, rng))
        assigned = [d for d in out if d.kind.value == "assigned"]
        held += [d.work_id for d in assigned]
        load += sum(CAPACITY.weight(d.channel or "") for d in assigned)
    return state, at, held, n


def steady(state: Any, at: float, held: list[str], n: int, operations: int,
           seed: int = 11) -> tuple[int, float]:
    rng = random.Random(seed)
    wall = time.perf_counter()
    decisions, spent, clock = 0, 0.0, time.process_time
    for k in range(operations):
        at += 1e-4
        if k % 2 == 0 and held:
            index = rng.randrange(len(held))
            held[index], held[-1] = held[-1], held[index]
            item = state.work.get(held.pop())
            if item is None or item.agent_id is None:
                continue
            event: Any = Resolve(at=at, event_id=f"x{k}", agent_id=item.agent_id,
                                 work_id=item.work_id)
        else:
            n += 1
            event = request(n, at, rng)
        started = clock()
        _, out = decide(state, event)
        spent += clock() - started
        decisions += len(out)
        held += [d.work_id for d in out if d.kind.value == "assigned"]
    global WALL
    WALL = time.perf_counter() - wall
    return decisions, spent


WALL = 0.0


def unplaceable(state: Any, at: float) -> float:
    """Seconds for one route nobody can take (then cancel nothing: it just waits)."""
    decide(state, Tick(at=at + 1e-4))  # timers and forgetting due by then: not this route's
    event = request(10**9, at + 1e-4, random.Random(1), impossible=True)
    started = time.process_time()
    decide(state, event)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes (CI smoke run)")
    parser.add_argument("--sizes", type=int, nargs="+", help="agent counts (1,000 first)")
    parser.add_argument("--rounds", type=int, default=6, help="measured rounds per size")
    args = parser.parse_args()
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    sizes = tuple(args.sizes) if args.sizes else sizes
    operations = 5_000 if args.quick else 10_000
    rounds = 3 if args.quick else args.rounds
    print("routing core, contact-centre mix: 40 Zipf skills, 3 per agent (levels 1-5), "
          "channel weights and caps, 85 % occupancy")
    print(f"{'agents':>8} {'occupancy':>9} {'idle':>7} {'waiting':>8} {'decisions/s':>12} "
          f"{'us/decision':>12} {'best us':>8} {'no-fit route ms':>16} "
          f"{'wall decisions/s':>17}")
    pools: dict[int, list[Any]] = {}
    for agents in sizes:  # every size built first, then measured in interleaved rounds:
        state, at, held, n = build(agents)  # a load change on a shared machine hits all
        steady(state, at, held, n, operations, seed=1)  # warm-up: drains the fill's backlog
        pools[agents] = [state, at, held, n]
    per_round: dict[int, list[float]] = {agents: [] for agents in sizes}
    walls: dict[int, list[float]] = {agents: [] for agents in sizes}
    for r in range(rounds):
        for agents in sizes:
            pool = pools[agents]
            pool[1] += operations * 1e-4 + 1.0
            pool[3] += operations
            decisions, seconds = steady(pool[0], pool[1], pool[2], pool[3], operations,
                                        seed=11 + r)
            per_round[agents].append(seconds / decisions * 1e6)
            walls[agents].append(decisions / WALL)
    cost = {agents: statistics.median(c) for agents, c in per_round.items()}
    best = {agents: min(c) for agents, c in per_round.items()}
    for agents in sizes:
        state, at = pools[agents][0], pools[agents][1] + operations * 1e-4 + 1.0
        idle = sum(1 for a in state.agents.values() if a.load == 0)
        miss = unplaceable(state, at) * 1e3
        print(f"{agents:>8,} {occupancy(state):>9.0%} {idle:>7,} {state.queued:>8,} "
              f"{1e6 / cost[agents]:>12,.0f} {cost[agents]:>12.2f} {best[agents]:>8.2f} "
              f"{miss:>16.3f} {statistics.median(walls[agents]):>17,.0f}")
    big, small = max(sizes), min(sizes)
    ratios = [b / s for b, s in zip(per_round[big], per_round[small], strict=True)]
    print(f"cost ratio {big:,} vs {small:,} agents: {statistics.median(ratios):.2f}x median "
          f"of the rounds' ratios, {best[big] / best[small]:.2f}x best rounds (target <= 2x)")
    if 10_000 in cost:
        print(f"decisions/s at 10,000 agents: {1e6 / cost[10_000]:,.0f} median round, "
              f"{1e6 / best[10_000]:,.0f} best round (target >= 50,000)")

if __name__ == "__main__":
    main()
