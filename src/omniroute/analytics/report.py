"""Reports from ``analytics_intervals``: KPIs by group, a time series, a heatmap, the funnel.

:func:`build_report` reads the aggregates of a period (one SQL pass for sums,
one for duration percentiles over the stored values) and returns a plain,
JSON-ready dict that the CLI renders as JSON, CSV or HTML and the gateway serves.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from omniroute.analytics.compute import DIMENSIONS, DURATIONS
from omniroute.analytics.kpis import Cell, Period, funnel_links, kpis
from omniroute.automation.proactive import proactive_rows

SERIES = ("conversations", "frt_median", "abandon_rate", "occupancy", "csat")


class ReportError(ValueError):
    """A report request that cannot be answered (unknown dimension, empty period)."""


def check_dimensions(by: list[str]) -> list[str]:
    """The requested grouping, validated against the known dimensions."""
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise ReportError(f"unknown dimension(s) {', '.join(unknown)}; "
                          f"choose from {', '.join(DIMENSIONS)}")
    return by


async def build_report(conn: asyncpg.Connection, start: datetime, end: datetime, by: list[str],
                       *, workspace: str | None = None, timezone: str = "UTC",
                       max_concurrency: int = 3) -> dict[str, Any]:
    """The report for ``[start, end)`` grouped by ``by`` (validated dimension names)."""
    check_dimensions(by)
    if end <= start:
        raise ReportError("--to must be after --from")
    where = "interval_start >= $1 AND interval_start < $2 AND ($3::text IS NULL OR workspace = $3)"
    args = (start, end, workspace)
    cells = await cells_by(conn, list(by), where, args)
    period = Period((end - start).total_seconds(), max_concurrency)
    total = (await cells_by(conn, [], where, args)).get((), {})
    rows = [{**dict(zip(by, key, strict=True)), **kpis(metrics, period)}
            for key, metrics in sorted(cells.items())]
    return {
        "from": start.isoformat(), "to": end.isoformat(), "by": by, "workspace": workspace,
        "timezone": timezone, "rows": rows, "total": kpis(total, period),
        "series": await _series(conn, where, args, max_concurrency),
        "heatmap": await _heatmap(conn, where, args, timezone),
        "funnel": await _funnel(conn, where, args),
    }


async def cells_by(conn: asyncpg.Connection, keys: list[str], where: str,
                 args: tuple[Any, ...]) -> dict[tuple[Any, ...], dict[str, Cell]]:
    """Per group of ``keys`` (SQL expressions) and metric: count, sum, median, p90."""
    select = "".join(f"{k} AS k{i}, " for i, k in enumerate(keys))
    group = ", ".join([*(f"k{i}" for i in range(len(keys))), "metric"])
    out: dict[tuple[Any, ...], dict[str, dict[str, float | None]]] = defaultdict(dict)
    for r in await conn.fetch(
            f"SELECT {select}metric, sum(count) AS count, sum(sum) AS sum "
            f"FROM analytics_intervals WHERE {where} GROUP BY {group}", *args):
        key = tuple(r[f"k{i}"] for i in range(len(keys)))
        out[key][r["metric"]] = {"count": float(r["count"]), "sum": float(r["sum"])}
    for r in await conn.fetch(
            f"SELECT {select}metric, percentile_cont(0.5) WITHIN GROUP (ORDER BY v) AS median, "
            f"percentile_cont(0.9) WITHIN GROUP (ORDER BY v) AS p90 "
            f"FROM analytics_intervals, unnest(vals) v WHERE {where} AND metric = ANY($4) "
            f"GROUP BY {group}", *args, list(DURATIONS)):
        key = tuple(r[f"k{i}"] for i in range(len(keys)))
        out[key][r["metric"]].update(median=r["median"], p90=r["p90"])
    return dict(out)


async def _series(conn: asyncpg.Connection, where: str, args: tuple[Any, ...],
                  max_concurrency: int) -> list[dict[str, Any]]:
    """Per bucket (15 min up to 2 days, hourly up to 14 days, else daily): headline KPIs.
    Every bucket of the period is listed, empty ones with no conversations: listing only
    buckets with data drew a week with one busy hour as one bar the chart's full width
    (a user run's report) and put Monday's bars beside Friday's."""
    start, end = args[0], args[1]
    span = (end - start).total_seconds()
    bucket = 900 if span <= 2 * 86400 else 3600 if span <= 14 * 86400 else 86400
    expr = f"to_timestamp(floor(extract(epoch FROM interval_start) / {bucket}) * {bucket})"
    found = {at.timestamp(): metrics
             for (at,), metrics in (await cells_by(conn, [expr], where, args)).items()}
    period = Period(float(bucket), max_concurrency)
    out = []
    at = start.timestamp() // bucket * bucket
    while at < end.timestamp():
        figures = kpis(found.get(at, {}), period)
        out.append({"at": datetime.fromtimestamp(at, UTC).isoformat(),
                    **{k: figures[k] for k in SERIES}})
        at += bucket
    return out


async def _heatmap(conn: asyncpg.Connection, where: str, args: tuple[Any, ...],
                   timezone: str) -> list[list[float]]:
    """Conversations by weekday (0 = Monday) x hour of day, in ``timezone``."""
    grid = [[0.0] * 24 for _ in range(7)]
    zone = ZoneInfo(timezone)
    for r in await conn.fetch(
            f"SELECT interval_start, sum(count) AS n FROM analytics_intervals "
            f"WHERE {where} AND metric = 'conversations' GROUP BY 1", *args):
        local = r["interval_start"].astimezone(zone)
        grid[local.weekday()][local.hour] += float(r["n"])
    return grid


async def _funnel(conn: asyncpg.Connection, where: str, args: tuple[Any, ...]) -> dict[str, Any]:
    paths = {r["detail"]: float(r["n"]) for r in await conn.fetch(
        f"SELECT detail, sum(count) AS n FROM analytics_intervals "
        f"WHERE {where} AND metric = 'funnel' GROUP BY detail", *args)}
    prompts = await conn.fetchval(
        f"SELECT COALESCE(sum(count), 0) FROM analytics_intervals "
        f"WHERE {where} AND metric = 'proactive'", *args)
    # messages the business started (automation send, the API): kept under their own prc_
    # ids, not in any conversation's facts (a user run sent four and the report said 0), or,
    # sent into a conversation the caller named, flagged proactive in their content (the
    # report counted only the first kind until 2026-12-07)
    sent = await conn.fetchval(
        f"SELECT count(*) FROM messages WHERE ({proactive_rows()} "
        "OR content ->> 'proactive' = 'true') "
        "AND direction = 'outbound' AND created_at >= $1 AND created_at < $2 "
        "AND ($3::text IS NULL OR workspace = $3)", *args)
    return {"proactive_messages": float(sent), "proactive_prompts": float(prompts), "paths": paths,
            "links": [list(link) for link in funnel_links(paths)]}


def to_csv(report: dict[str, Any]) -> str:
    """One CSV row per group (dimension columns first, then every KPI): counts as integers,
    other figures to four decimals (a user run's export read ``306.0`` conversations and
    ``326.47060580000004`` seconds), no value as an empty cell."""
    rows = report["rows"] or [{**{d: "" for d in report["by"]}, **report["total"]}]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        value = round(value, 4)
        return int(value) if value.is_integer() else value
    return value
