"""What-if: replay a recorded period's routing inputs through the routing core (pure).

The recorded arrivals (when each conversation entered the pool, how long an
agent then worked on it, how long the customer was prepared to wait) and the
recorded agent shifts become :mod:`omniroute.routing` inputs; the unchanged
routing core (:func:`omniroute.routing.engine.decide`) decides under another
selection policy, head count or capacity. Agents accept automatically; each
conversation is resolved its recorded handle time after it was assigned; a
customer whose recorded wait ended without an agent leaves (``Cancel``) at the
same patience unless the scenario answered sooner. The result: wait, SLA
attainment, abandonment, occupancy and fairness (Jain's index of conversations
handled per agent), side by side.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

from omniroute.analytics.formulas import mean, percentile
from omniroute.routing.engine import decide, new_pool
from omniroute.routing.events import Cancel, CoreEvent, Kind, Resolve, Route, SetPresence
from omniroute.routing.policy import AgentCapacity, AgentProfile, PoolPolicy, Selection


@dataclass(frozen=True)
class Arrival:
    """One recorded conversation as routing input (times in POSIX seconds)."""

    work_id: str
    at: float
    channel: str
    handle_s: float | None = None
    patience_s: float | None = None
    customer_id: str = ""


@dataclass(frozen=True)
class Shift:
    """An agent online from ``start`` to ``end``."""

    agent_id: str
    start: float
    end: float


@dataclass(frozen=True)
class Scenario:
    """What to change: selection policy, head count (None: the recorded shifts), capacity."""

    name: str
    selection: str = "longest_idle"
    agents: int | None = None
    capacity: int = 3
    sla_s: float = 60.0
    capacities: dict[str, int] = field(default_factory=dict)
    """Recorded agents' own capacities (the live routing configuration's); others get
    ``capacity``."""


@dataclass(frozen=True)
class Outcome:
    """What the scenario achieved."""

    name: str
    arrivals: int
    answered: int
    abandoned: int
    wait_mean_s: float | None
    wait_p90_s: float | None
    sla_attainment: float | None
    occupancy: float | None
    fairness: float | None
    handled: dict[str, int] = field(default_factory=dict)


def jain(values: Sequence[float]) -> float | None:
    """Jain's fairness index: 1 when every agent handled the same, 1/n when one did all."""
    square = sum(v * v for v in values)
    return sum(values) ** 2 / (len(values) * square) if values and square else None


def replay(pool: str, arrivals: Sequence[Arrival], shifts: Sequence[Shift], scenario: Scenario,
           start: float, end: float) -> Outcome:
    """Run the period through the routing core under ``scenario``."""
    if scenario.agents is not None:
        shifts = [Shift(f"agent-{i + 1}", start, end) for i in range(scenario.agents)]
    profiles = tuple(AgentProfile(a, pool, AgentCapacity(scenario.capacities.get(
                         a, scenario.capacity)), auto_accept=True)
                     for a in sorted({s.agent_id for s in shifts}))
    policy = PoolPolicy(pool=pool, selection=Selection(scenario.selection),
                        heartbeat_grace_s=1e12, offer_timeout_s=1e12)
    state = new_pool(policy, profiles)
    known = [a.handle_s for a in arrivals if a.handle_s]
    default_handle = mean(known) or 300.0
    queue: list[tuple[float, int, CoreEvent]] = []
    order = 0

    def push(event: CoreEvent) -> None:
        nonlocal order
        order += 1
        heapq.heappush(queue, (event.at, order, event))

    for s in shifts:
        push(SetPresence(at=max(start, s.start), event_id=f"on-{s.agent_id}-{s.start}",
                         agent_id=s.agent_id, presence="available"))
        if s.end < end:
            push(SetPresence(at=s.end, event_id=f"off-{s.agent_id}-{s.end}",
                             agent_id=s.agent_id, presence="offline"))
    by_id = {a.work_id: a for a in arrivals}
    for a in arrivals:
        push(Route(at=a.at, event_id=f"route-{a.work_id}", work_id=a.work_id,
                   customer_id=a.customer_id or a.work_id, channel=a.channel))
        if a.patience_s is not None:
            push(Cancel(at=a.at + a.patience_s, event_id=f"leave-{a.work_id}",
                        work_id=a.work_id, reason="abandoned"))
    waits: dict[str, float] = {}
    handled: dict[str, int] = {p.agent_id: 0 for p in profiles}
    busy = _Busy()
    abandoned = 0
    while queue:
        _, _, event = heapq.heappop(queue)
        if isinstance(event, Cancel) and event.work_id in waits:
            continue  # answered before the customer's recorded patience ran out
        _, decisions = decide(state, event)
        for d in decisions:
            if d.kind is Kind.ASSIGNED and d.work_id and d.agent_id:
                arrival = by_id[d.work_id]
                waits[d.work_id] = d.at - arrival.at
                handled[d.agent_id] += 1
                busy.change(d.agent_id, d.at, +1)
                push(Resolve(at=d.at + (arrival.handle_s or default_handle),
                             event_id=f"done-{d.work_id}", agent_id=d.agent_id,
                             work_id=d.work_id))
            elif d.kind in (Kind.COMPLETED, Kind.REVOKED) and d.agent_id:
                busy.change(d.agent_id, d.at, -1)
            elif d.kind is Kind.DROPPED:
                abandoned += 1
    online = sum(max(0.0, min(s.end, end) - max(s.start, start)) for s in shifts)
    values = list(waits.values())
    return Outcome(
        name=scenario.name, arrivals=len(arrivals), answered=len(waits), abandoned=abandoned,
        wait_mean_s=mean(values), wait_p90_s=percentile(values, 0.9),
        sla_attainment=(sum(1 for w in values if w <= scenario.sla_s) / len(arrivals)
                        if arrivals else None),
        occupancy=busy.total(end) / online if online else None,
        fairness=jain([float(n) for n in handled.values()]), handled=handled)


class _Busy:
    """Time each agent held at least one conversation."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}
        self.since: dict[str, float] = {}
        self.busy = 0.0

    def change(self, agent: str, at: float, delta: int) -> None:
        held = self.count.get(agent, 0)
        if held > 0:
            self.busy += at - self.since[agent]
        self.count[agent] = max(0, held + delta)
        self.since[agent] = at

    def total(self, end: float) -> float:
        return self.busy + sum(max(0.0, end - self.since[a]) for a, n in self.count.items() if n)


ROWS = (("arrivals", "Arrivals", ""), ("answered", "Answered", ""),
        ("abandoned", "Abandoned", ""), ("wait_mean_s", "Wait, mean (s)", "s"),
        ("wait_p90_s", "Wait, p90 (s)", "s"), ("sla_attainment", "SLA attainment", "%"),
        ("occupancy", "Occupancy", "%"), ("fairness", "Fairness (Jain)", "x"))


def _cell(value: object, unit: str) -> str:
    if value is None:
        return "-"
    number = float(value)  # type: ignore[arg-type]
    if unit == "%":
        return f"{100 * number:.1f}%"
    if unit in ("s", "x"):
        return f"{number:.2f}" if unit == "x" else f"{number:.1f}"
    return f"{number:g}"


def _label(outcome: dict[str, object]) -> str:
    s = outcome["scenario"]
    assert isinstance(s, dict)
    heads = "recorded shifts" if s["agents"] is None else f"{s['agents']} agents"
    capacity = "capacities as configured" if s.get("capacities") else f"capacity {s['capacity']}"
    return f"{outcome['name']}: {s['selection']}, {heads}, {capacity}"


def comparison_lines(outcomes: list[dict[str, object]]) -> list[str]:
    """Side by side, as text."""
    width = 28
    lines = [" " * 18 + "".join(_label(o)[:width - 2].ljust(width) for o in outcomes)]
    for key, label, unit in ROWS:
        lines.append(label.ljust(18) + "".join(_cell(o[key], unit).ljust(width)
                                               for o in outcomes))
    return lines


def render_comparison(outcomes: list[dict[str, object]], title: str) -> str:
    """Side by side, as one self-contained HTML page."""
    from html import escape

    from omniroute.analytics.charts import STYLE

    head = "".join(f"<th>{escape(_label(o))}</th>" for o in outcomes)
    body = "".join(f"<tr><td>{escape(label)}</td>" + "".join(
        f"<td>{_cell(o[key], unit)}</td>" for o in outcomes) + "</tr>" for key, label, unit in ROWS)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
            f"</title><style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
            f'<table id="whatif"><tr><th></th>{head}</tr>{body}</table></body></html>')
