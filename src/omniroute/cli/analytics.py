"""``omniroute report``, ``staffing`` and ``analytics refresh``: support analytics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import click

from omniroute.analytics.capacity import live_capacities
from omniroute.analytics.charts import LANGUAGES, render_html
from omniroute.analytics.compute import Capacity, dumps, refresh
from omniroute.analytics.demand import measured_demand
from omniroute.analytics.formulas import OfficeHours
from omniroute.analytics.planning import MODELS, answer, plan
from omniroute.analytics.recorded import recorded_inputs
from omniroute.analytics.report import ReportError, build_report, check_dimensions, to_csv
from omniroute.analytics.staffing import StaffingError, StaffingInput
from omniroute.analytics.whatif import (
    Arrival,
    Scenario,
    Shift,
    comparison_lines,
    render_comparison,
    replay,
)
from omniroute.cli.app import cli, fails_cleanly, say, settings_from_env
from omniroute.cli.db import with_database
from omniroute.errors import ConfigurationError
from omniroute.routing.policy import Selection
from omniroute.settings import Settings


def parse_when(value: str) -> datetime:
    """An ISO date or date-time; without an offset it is UTC."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO date or date-time") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def office_hours(settings: Settings) -> OfficeHours:
    """The configured office hours, or a configuration error naming the setting."""
    try:
        return OfficeHours.parse(settings.analytics_office_hours)
    except (ValueError, KeyError) as exc:
        raise ConfigurationError(
            f"OMNIROUTE_ANALYTICS_OFFICE_HOURS: {exc}",
            hint='e.g. "mon-fri 09:00-17:00 Europe/Berlin"') from exc


async def refreshed(conn: asyncpg.Connection, settings: Settings) -> None:
    """Bring the aggregates up to date, with progress on stderr."""
    result = await refresh(conn, datetime.now(UTC), hours=office_hours(settings),
                           short_abandon_s=settings.analytics_short_abandon_seconds,
                           progress=lambda m: say(f"analytics: {m}"),
                           capacity=await live_capacities(settings))
    say(f"analytics: refreshed {dumps(result)}")


@cli.group()
def analytics() -> None:
    """Support analytics computed from history."""


@analytics.command("refresh")
@fails_cleanly
def refresh_command() -> None:
    """Recompute what changed in history since the last run (incremental)."""
    settings = settings_from_env()

    async def run(conn: asyncpg.Connection) -> None:
        await refreshed(conn, settings)

    with_database(run)


@analytics.command("run")
@click.option("--interval", type=click.FloatRange(5, 3600), default=60.0, show_default=True,
              help="Seconds between refreshes.")
@fails_cleanly
def run_command(interval: float) -> None:
    """Refresh continuously and export live support gauges on /metrics (OMNIROUTE_METRICS_PORT)."""
    from omniroute.analytics.live import run_live

    settings = settings_from_env()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_live(settings, interval))


@cli.command()
@click.option("--from", "start", required=True, help="Start (ISO date or date-time, UTC).")
@click.option("--to", "end", required=True, help="End, exclusive.")
@click.option("--by", default="", help="Group by: workspace,pool,channel,agent,language,intent.")
@click.option("--format", "fmt", type=click.Choice(["html", "csv", "json"]), default="html")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of stdout.")
@click.option("--workspace", default=None, help="Only this workspace.")
@click.option("--timezone", default=None, help="Heatmap time zone (default: office hours').")
@click.option("--no-refresh", is_flag=True, help="Report the aggregates as they are.")
@click.option("--lang", type=click.Choice(LANGUAGES), default="en",
              help="The HTML report's language.")
@fails_cleanly
def report(start: str, end: str, by: str, fmt: str, output: Path | None, workspace: str | None,
           timezone: str | None, no_refresh: bool, lang: str) -> None:
    """A support report for a period: KPIs by group, charts (HTML), CSV or JSON."""
    settings = settings_from_env()
    try:
        dims = check_dimensions([d.strip() for d in by.split(",") if d.strip()])
    except ReportError as exc:
        raise click.BadParameter(str(exc), param_hint="--by") from exc
    zone = timezone or office_hours(settings).timezone

    async def run(conn: asyncpg.Connection) -> dict[str, Any]:
        if not no_refresh:
            await refreshed(conn, settings)
        say("analytics: building the report")
        return await build_report(conn, parse_when(start), parse_when(end), dims,
                                  workspace=workspace, timezone=zone,
                                  max_concurrency=settings.analytics_max_concurrency)

    try:
        result = with_database(run)
    except ReportError as exc:
        raise click.UsageError(str(exc)) from exc
    text = (render_html(result, lang) if fmt == "html" else to_csv(result) if fmt == "csv"
            else json.dumps(result, indent=2))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        say(f"report written to {output}")


@cli.command()
@click.option("--contacts", type=float, help="Contacts arriving per interval (typed input).")
@click.option("--aht", type=float, default=180.0, show_default=True, help="Handle time (s).")
@click.option("--interval", type=int, default=1800, show_default=True, help="Interval (s).")
@click.option("--service-level", "target_sl", type=float, default=0.8, show_default=True)
@click.option("--answer-within", type=float, default=20.0, show_default=True, help="Seconds.")
@click.option("--max-occupancy", type=float, default=0.85, show_default=True)
@click.option("--shrinkage", type=float, default=0.3, show_default=True)
@click.option("--concurrency", type=int, default=1, show_default=True,
              help="Max chats per agent (applies the concurrency factor).")
@click.option("--factor", type=float, default=None, help="Measured concurrency factor.")
@click.option("--model", type=click.Choice(MODELS), default="erlang-c", show_default=True)
@click.option("--patience", type=float, default=None, help="Mean patience (s): erlang-a, "
              "simulation.")
@click.option("--from", "start", default=None, help="Measure arrivals and AHT from history.")
@click.option("--to", "end", default=None)
@click.option("--pool", default=None, help="Measured: only this pool.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@fails_cleanly
def staffing(contacts: float | None, aht: float, interval: int, target_sl: float,
             answer_within: float, max_occupancy: float, shrinkage: float, concurrency: int,
             factor: float | None, model: str, patience: float | None, start: str | None,
             end: str | None, pool: str | None, fmt: str) -> None:
    """Agents to staff and roster: Erlang C (chat concurrency, shrinkage), Erlang A, simulation."""
    base = StaffingInput(contacts=contacts or 0.0, aht_s=aht, interval_s=interval,
                         target_sl=target_sl, target_answer_s=answer_within,
                         max_occupancy=max_occupancy, shrinkage=shrinkage,
                         max_concurrent=concurrency, factor=factor)
    try:
        if start and end:
            settings = settings_from_env()

            async def run(conn: asyncpg.Connection) -> list[dict[str, Any]]:
                await refreshed(conn, settings)
                demand = await measured_demand(conn, parse_when(start), parse_when(end),
                                               interval, pool=pool)
                return plan(demand, base, model, patience)

            rows = with_database(run)
        elif contacts is not None:
            rows = [answer(base, model, patience)]
        else:
            raise click.UsageError("give --contacts (typed input) or --from and --to (measured)")
    except (StaffingError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps(rows if start else rows[0], indent=2))
        return
    for row in rows:
        prefix = f"{row['start']}  " if "start" in row else ""
        click.echo(f"{prefix}{row['contacts']:g} contacts, AHT {row['aht_s']:.0f}s: "
                   f"{row['agents']} agents ({row['rostered']} rostered), service level "
                   f"{row['service_level']:.4f}, ASA {row['asa_s']:.3f}s, occupancy "
                   f"{row['occupancy']:.4f}" + (f", P(wait) {row['p_wait']:.4f}"
                                                if row.get("p_wait") is not None else ""))


@cli.command()
@click.option("--from", "start", required=True, help="Start of the recorded period (ISO).")
@click.option("--to", "end", required=True, help="End, exclusive.")
@click.option("--pool", required=True, help="The routing pool to replay.")
@click.option("--policy", type=click.Choice([s.value for s in Selection]), default=None,
              help="Selection policy of the alternative (default: the baseline's).")
@click.option("--agents", type=int, default=None, help="Alternative head count (all online).")
@click.option("--capacity", type=int, default=None, help="Alternative chats per agent.")
@click.option("--baseline-policy", type=click.Choice([s.value for s in Selection]),
              default="longest_idle", show_default=True)
@click.option("--sla", type=float, default=60.0, show_default=True,
              help="SLA: answered within this many seconds.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text")
@fails_cleanly
def whatif(start: str, end: str, pool: str, policy: str | None, agents: int | None,
           capacity: int | None, baseline_policy: str, sla: float, fmt: str) -> None:
    """Replay a recorded period through the routing core under another policy or head count."""
    settings = settings_from_env()
    begin, finish = parse_when(start), parse_when(end)
    cap = settings.analytics_max_concurrency

    async def run(conn: asyncpg.Connection) -> tuple[list[Arrival], list[Shift], Capacity]:
        say(f"whatif: reading {pool} {begin.isoformat()} → {finish.isoformat()}")
        return (*await recorded_inputs(conn, pool, begin, finish),
                await live_capacities(settings))

    arrivals, shifts, configured = with_database(run)
    # the recorded agents keep their own capacities (the nominal one when Kafka is away)
    own = {s.agent_id: c for s in shifts if (c := configured(s.agent_id)) != cap}
    scenarios = [
        Scenario("recorded shifts", baseline_policy, None, cap, sla, own),
        Scenario("what-if", policy or baseline_policy, agents, capacity or cap, sla,
                 own if agents is None and capacity is None else {}),
    ]
    say(f"whatif: {len(arrivals)} arrivals, {len(shifts)} shifts; replaying")
    outcomes = [asdict(replay(pool, arrivals, shifts, s, begin.timestamp(), finish.timestamp()))
                for s in scenarios]
    for outcome, scenario in zip(outcomes, scenarios, strict=True):
        outcome["scenario"] = asdict(scenario)
    if fmt == "json":
        click.echo(json.dumps(outcomes, indent=2))
    elif fmt == "html":
        click.echo(render_comparison(outcomes, f"What-if: pool {pool}, {start} → {end}"))
    else:
        for line in comparison_lines(outcomes):
            click.echo(line)
