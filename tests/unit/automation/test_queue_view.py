"""The queue view's estimates equal a scan of every waiting conversation and agent.

The view keeps positions in a sorted list and the available agents' counts as sums
updated when agents change; the reference here is the scan it replaced.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute.automation.queue import ANY_POOL, QueueView

POOLS = ["support", "sales", ANY_POOL]
AGENTS = ["ada", "bob", "cy", "dee"]
CONVERSATIONS = [f"c{i}" for i in range(8)]


@dataclass
class Scan:
    """The reference: what every estimate used to compute by scanning."""

    waiting: dict[str, dict[str, float]] = field(default_factory=dict)
    agents: dict[str, dict[str, object]] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)

    def wait(self, pool: str, cid: str, since: float) -> None:
        for queue in self.waiting.values():
            queue.pop(cid, None)
        self.waiting.setdefault(pool, {})[cid] = since

    def assigned(self, cid: str, agent_id: str, pool: str | None) -> None:
        for queue in self.waiting.values():
            queue.pop(cid, None)
        agent = self.agents.setdefault(agent_id, _agent(pool or ANY_POOL))
        agent["active"].add(cid)  # type: ignore[attr-defined]
        self.held[cid] = agent_id

    def resolved(self, cid: str) -> None:
        for queue in self.waiting.values():
            queue.pop(cid, None)
        agent_id = self.held.pop(cid, None)
        if agent_id in self.agents:
            self.agents[agent_id]["active"].discard(cid)  # type: ignore[attr-defined]

    def presence(self, agent_id: str, pool: str | None, available: bool | None,
                 capacity: int | None) -> None:
        agent = self.agents.setdefault(agent_id, _agent(ANY_POOL))
        if pool:
            agent["pool"] = pool
        if available is not None:
            agent["available"] = available
        if capacity is not None:
            agent["capacity"] = capacity

    def state(self, pool: str | None, cid: str) -> tuple[int, int, int, int]:
        key = pool or ANY_POOL
        queue = self.waiting.get(key, {})
        mine = queue.get(cid)
        ahead = sum(1 for other, since in queue.items()
                    if other != cid and (mine is None or since <= mine))
        agents = [a for a in self.agents.values()
                  if a["available"] and (a["pool"] in (key, ANY_POOL) or key == ANY_POOL)]
        free = sum(max(0, a["capacity"] - len(a["active"])) for a in agents)  # type: ignore
        concurrency = round(statistics.median([a["capacity"] for a in agents])) if agents else 1
        return ahead + 1, len(agents), free, concurrency  # type: ignore[return-value]


def _agent(pool: str) -> dict[str, object]:
    return {"pool": pool, "available": False, "capacity": 1, "active": set()}


step = st.one_of(
    st.tuples(st.just("wait"), st.sampled_from(POOLS), st.sampled_from(CONVERSATIONS),
              st.sampled_from([1.0, 2.0, 2.0, 3.0, 5.0])),
    st.tuples(st.just("assigned"), st.sampled_from(CONVERSATIONS), st.sampled_from(AGENTS),
              st.sampled_from([*POOLS, None])),
    st.tuples(st.just("resolved"), st.sampled_from(CONVERSATIONS)),
    st.tuples(st.just("presence"), st.sampled_from(AGENTS), st.sampled_from([*POOLS, None]),
              st.sampled_from([True, False, None]), st.sampled_from([1, 2, 3, 5, None])),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=60))
def test_every_estimate_equals_the_scan(steps: list[tuple[object, ...]]) -> None:
    view, scan = QueueView(), Scan()
    for name, *args in steps:
        if name == "wait":
            view.wait(*args, )  # type: ignore[arg-type]
            scan.wait(*args)  # type: ignore[arg-type]
        elif name == "assigned":
            view.assigned(*args, at=10.0)  # type: ignore[arg-type, misc]
            scan.assigned(*args)  # type: ignore[arg-type]
        elif name == "resolved":
            view.resolved(args[0], at=20.0)  # type: ignore[arg-type]
            scan.resolved(args[0])  # type: ignore[arg-type]
        else:
            view.presence(*args)  # type: ignore[arg-type]
            scan.presence(*args)  # type: ignore[arg-type]
        for pool in POOLS:
            for cid in CONVERSATIONS:
                state = view.state(pool, cid, 300.0)
                got = (state.position, state.agents_available, state.free_slots,
                       state.concurrency)
                assert got == scan.state(pool, cid), (pool, cid)


def test_a_position_among_thousands_is_a_bisection() -> None:
    """Ties count as ahead (waiting since no later), as the scan counted them."""
    view = QueueView()
    for i in range(5000):
        view.wait("support", f"c{i}", float(i // 2))
    assert view.state("support", "c0", 300.0).position == 2  # c1 waits since the same second
    assert view.state("support", "c4999", 300.0).position == 5000
    assert view.state("support", "new", 300.0).position == 5001  # not waiting: behind all
