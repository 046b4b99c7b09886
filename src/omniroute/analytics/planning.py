"""Staffing answers for people and per interval: one dict per question (pure).

:func:`answer` runs the chosen model (Erlang C with the concurrency factor,
Erlang A, or the chat simulation) on typed inputs; :func:`plan` does it for
every interval of measured demand (arrivals and mean handle time per interval,
as :func:`omniroute.analytics.demand.measured_demand` reads them from history).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from omniroute.analytics.chatsim import ChatTeam, required_agents_sim
from omniroute.analytics.erlang_a import required_agents_a
from omniroute.analytics.staffing import StaffingError, StaffingInput, required_agents, rostered

MODELS = ("erlang-c", "erlang-a", "simulation")


@dataclass(frozen=True)
class Demand:
    """Measured demand in one interval."""

    start: datetime
    contacts: float
    aht_s: float | None


def answer(demand: StaffingInput, model: str = "erlang-c",
           patience_s: float | None = None) -> dict[str, Any]:
    """Agents needed (and rostered) under ``model``, with the figures they achieve."""
    if model not in MODELS:
        raise StaffingError(f"model must be one of {', '.join(MODELS)}")
    demand.check()
    c = required_agents(demand)
    out: dict[str, Any] = {
        "model": model, "contacts": demand.contacts, "interval_s": demand.interval_s,
        "aht_s": demand.aht_s, "effective_aht_s": c.effective_aht_s, "load": c.figures.load,
        "agents": c.agents, "rostered": c.rostered, "p_wait": c.figures.p_wait,
        "service_level": c.figures.service_level, "asa_s": c.figures.asa_s,
        "occupancy": c.figures.occupancy,
    }
    if model == "erlang-c" or demand.contacts == 0:
        return out
    if patience_s is None or patience_s <= 0:
        raise StaffingError(f"{model} needs a patience (mean seconds a customer waits)")
    if model == "erlang-a":
        a = required_agents_a(demand.contacts, demand.interval_s, demand.effective_aht_s,
                              patience_s, demand.target_sl, demand.target_answer_s,
                              demand.max_occupancy)
        out.update(agents=a.agents, rostered=rostered(a.agents, demand.shrinkage),
                   p_wait=a.p_wait, service_level=a.service_level, asa_s=a.asa_s,
                   occupancy=a.occupancy, p_abandon=a.p_abandon, erlang_c_agents=c.agents)
        return out
    team = ChatTeam(agents=1, contacts=demand.contacts, interval_s=demand.interval_s,
                    aht_s=demand.aht_s, max_concurrent=demand.max_concurrent,
                    patience_s=patience_s, target_answer_s=demand.target_answer_s,
                    horizon_s=max(8 * 3600.0, 400 * demand.interval_s / max(1.0, demand.contacts)))
    agents, sim = required_agents_sim(team, demand.target_sl)
    out.update(agents=agents, rostered=rostered(agents, demand.shrinkage), p_wait=None,
               service_level=sim.service_level, asa_s=sim.asa_s, occupancy=sim.occupancy,
               p_abandon=sim.abandon_rate, concurrency=sim.concurrency, erlang_c_agents=c.agents)
    return out


def plan(intervals: list[Demand], base: StaffingInput, model: str = "erlang-c",
         patience_s: float | None = None) -> list[dict[str, Any]]:
    """One staffing answer per interval of measured demand (handle time falls back to base)."""
    rows = []
    for d in intervals:
        demand = replace(base, contacts=d.contacts, aht_s=d.aht_s or base.aht_s)
        rows.append({"start": d.start.isoformat(), **answer(demand, model, patience_s)})
    return rows
