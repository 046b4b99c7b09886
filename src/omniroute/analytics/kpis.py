"""Aggregate rows → the figures a support lead reads (pure).

Input: per group, per metric, ``count`` and ``sum`` of samples and (durations)
``median``/``p90``, as :mod:`omniroute.analytics.report` reads them from
``analytics_intervals``. Output: one flat dict of named KPIs per group. Each
name is defined once in ``docs/analytics.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from omniroute.analytics.formulas import ratio

Cell = Mapping[str, float | None]
"""``count``, ``sum`` and, for durations, ``median`` and ``p90``."""

DURATION_KPIS = ("frt", "frt_business", "queue_wait", "next_reply", "resolution_first",
                 "resolution_last", "chat_duration", "handle_time")
RATE_KPIS = {"missed": "missed_rate", "abandoned": "abandon_rate", "fcr": "fcr_rate",
             "csat": "csat", "sla_breached": "sla_breach_rate",
             "bot_resolved": "bot_resolution_rate", "article_resolved": "article_resolution_rate",
             "human_resolved": "human_resolved_share"}


@dataclass(frozen=True)
class Period:
    """The report's span in seconds and the agents' nominal maximum concurrency (utilization's
    denominator for samples computed without the agents' capacities)."""

    seconds: float
    max_concurrency: int = 3


def kpis(metrics: Mapping[str, Cell], period: Period) -> dict[str, float | None]:
    """Every KPI of one group from its per-metric cells."""
    def total(metric: str) -> float:
        return float(metrics.get(metric, {}).get("sum") or 0.0)

    def count(metric: str) -> float:
        return float(metrics.get(metric, {}).get("count") or 0.0)

    out: dict[str, float | None] = {"conversations": count("conversations")}
    for name in DURATION_KPIS:
        cell = metrics.get(name, {})
        out[f"{name}_mean"] = ratio(total(name), count(name))
        out[f"{name}_median"] = cell.get("median")
        out[f"{name}_p90"] = cell.get("p90")
    for metric, name in RATE_KPIS.items():
        out[name] = ratio(total(metric), count(metric))
    out["missed"] = total("missed")
    out["abandoned"] = total("abandoned")
    out["csat_mean_score"] = ratio(total("csat_score"), count("csat_score"))
    out["survey_response_rate"] = ratio(count("csat"), count("survey_sent"))
    out["transfers"] = total("transfers")
    out["transfer_rate"] = ratio(total("transfers"), count("conversations"))
    out["parked"] = total("parked")
    online, chatting, engaged = total("online_s"), total("chatting_s"), total("engaged_s")
    out["agents_online"] = ratio(online, period.seconds)
    out["agents_chatting"] = ratio(chatting, period.seconds)
    out["occupancy"] = ratio(chatting, online)
    out["concurrency"] = ratio(engaged, chatting)
    # each agent's own capacity where refresh knew it, else the nominal concurrency
    capacity = total("capacity_s") or online * period.max_concurrency
    # conversations by their channels' weights; samples computed before load_s count each as 1
    load = total("load_s") if count("load_s") else engaged
    out["utilization"] = ratio(load, capacity)
    return out


FUNNEL_ORDER = ("proactive", "inbound", "self_serve", "bot", "human", "resolved_self_serve",
                "resolved_bot", "resolved_human", "resolved_other", "abandoned", "open")


def funnel_links(paths: Mapping[str, float]) -> list[tuple[str, str, float]]:
    """Sankey links (source, target, conversations) from ``a>b>c`` paths and their counts."""
    links: dict[tuple[str, str], float] = {}
    for path, n in paths.items():
        stages = path.split(">")
        for a, b in itertools.pairwise(stages):
            links[(a, b)] = links.get((a, b), 0.0) + n
    order = {name: i for i, name in enumerate(FUNNEL_ORDER)}
    return sorted(((a, b, n) for (a, b), n in links.items()),
                  key=lambda x: (order.get(x[0], 99), order.get(x[1], 99)))
