"""Gateway routes for supervisors: reports, staffing, what-if (a thin aiohttp shell).

``register(app, gateway)`` adds the routes; :data:`OPERATIONS` describes them
for the gateway's OpenAPI document. Every route needs a supervisor token
(403 for agents); reports refresh the aggregates first (incremental).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg
from aiohttp import web

from omniroute.analytics.capacity import live_capacities
from omniroute.analytics.charts import LANGUAGES, render_html
from omniroute.analytics.compute import refresh
from omniroute.analytics.demand import measured_demand
from omniroute.analytics.formulas import OfficeHours
from omniroute.analytics.planning import MODELS, answer, plan
from omniroute.analytics.report import ReportError, build_report, check_dimensions, to_csv
from omniroute.analytics.staffing import StaffingError, StaffingInput
from omniroute.gateway.problems import BadRequest, Forbidden
from omniroute.gateway.routing_stats import LiveConfig
from omniroute.observability.logs import get_logger

if TYPE_CHECKING:
    from omniroute.gateway.app import Gateway

log = get_logger(__name__)
REPORT_PARAMS = ("from", "to", "by", "format", "workspace", "timezone", "lang")
STAFFING_PARAMS = ("contacts", "aht", "interval", "service_level", "answer_within",
                   "max_occupancy", "shrinkage", "concurrency", "factor", "model", "patience",
                   "from", "to", "pool", "workspace")
OPERATIONS = (
    ("get", "/api/v1/reports", "Supervisors: support report for a period (`from`, `to` ISO; "
     "`by` dimensions; `format` json, csv or html; `lang` en or ko, the html's words).",
     REPORT_PARAMS),
    ("get", "/api/v1/staffing", "Supervisors: agents to staff and roster (Erlang C with chat "
     "concurrency and shrinkage, Erlang A, simulation) from typed inputs, or with `from` and "
     "`to` per interval of the arrivals and handle times measured in history.",
     STAFFING_PARAMS),
)
"""(method, path, summary, query parameters) of every route here."""


def _when(value: str | None, name: str) -> datetime:
    if not value:
        raise BadRequest(f"query parameter {name!r} is required (ISO date or date-time)")
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(f"{name}={value!r} is not an ISO date or date-time") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _number(query: Any, name: str, default: float | None) -> float | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise BadRequest(f"{name}={raw!r} is not a number") from exc


class AnalyticsRoutes:
    """Handlers bound to the gateway's pool and authentication."""

    def __init__(self, gateway: Gateway, config: LiveConfig) -> None:
        self.gateway = gateway
        self.config = config

    async def _refresh(self, conn: asyncpg.Connection) -> None:
        """Bring the aggregates up to date, agents weighed by their live capacities (the
        nominal concurrency when Kafka does not answer: the report is still served)."""
        settings = self.gateway.settings
        capacity = await live_capacities(settings, reader=self.config)
        await refresh(conn, datetime.now(UTC), hours=self.hours,
                      short_abandon_s=settings.analytics_short_abandon_seconds,
                      capacity=capacity)

    @property
    def hours(self) -> OfficeHours:
        """The configured office hours (validated by the CLI's report on startup errors)."""
        try:
            return OfficeHours.parse(self.gateway.settings.analytics_office_hours)
        except (ValueError, KeyError) as exc:
            raise BadRequest(f"OMNIROUTE_ANALYTICS_OFFICE_HOURS is invalid: {exc}") from exc

    async def _supervisor(self, request: web.Request) -> None:
        who = await self.gateway.who(request)
        if not who.supervisor:
            raise Forbidden("reports and staffing are for supervisors")

    async def report(self, request: web.Request) -> web.StreamResponse:
        """GET /api/v1/reports."""
        await self._supervisor(request)
        q = request.query
        start, end = _when(q.get("from"), "from"), _when(q.get("to"), "to")
        fmt = q.get("format", "json")
        if fmt not in ("json", "csv", "html"):
            raise BadRequest("format must be json, csv or html")
        lang = q.get("lang", "en")
        if lang not in LANGUAGES:
            raise BadRequest(f"lang must be one of {', '.join(LANGUAGES)}")
        settings = self.gateway.settings
        try:
            by = check_dimensions([d for d in q.get("by", "").split(",") if d])
            async with self.gateway.pool.acquire() as conn:
                await self._refresh(conn)
                result = await build_report(
                    conn, start, end, by, workspace=q.get("workspace") or None,
                    timezone=q.get("timezone") or self.hours.timezone,
                    max_concurrency=settings.analytics_max_concurrency)
        except ReportError as exc:
            raise BadRequest(str(exc)) from exc
        if fmt == "csv":
            return web.Response(text=to_csv(result), content_type="text/csv")
        if fmt == "html":
            return web.Response(text=render_html(result, lang), content_type="text/html")
        return web.json_response(result)

    async def staffing(self, request: web.Request) -> web.Response:
        """GET /api/v1/staffing."""
        await self._supervisor(request)
        q = request.query
        model = q.get("model", "erlang-c")
        if model not in MODELS:
            raise BadRequest(f"model must be one of {', '.join(MODELS)}")
        try:
            demand = StaffingInput(
                contacts=_number(q, "contacts", 0.0) or 0.0, aht_s=_number(q, "aht", 180.0) or 0,
                interval_s=_number(q, "interval", 1800.0) or 0,
                target_sl=_number(q, "service_level", 0.8) or 0,
                target_answer_s=_number(q, "answer_within", 20.0) or 0.0,
                max_occupancy=_number(q, "max_occupancy", 0.85) or 0,
                shrinkage=_number(q, "shrinkage", 0.3) or 0.0,
                max_concurrent=int(_number(q, "concurrency", 1) or 1),
                factor=_number(q, "factor", None))
            patience = _number(q, "patience", None)
            if q.get("from") or q.get("to"):
                return web.json_response(
                    {"intervals": await self._measured(request, demand, model, patience)})
            return web.json_response(answer(demand, model, patience))
        except (StaffingError, ValueError) as exc:
            raise BadRequest(str(exc)) from exc


    async def _measured(self, request: web.Request, base: StaffingInput, model: str,
                        patience: float | None) -> list[dict[str, Any]]:
        """One answer per interval of the arrivals and handle times measured in history."""
        q = request.query
        start, end = _when(q.get("from"), "from"), _when(q.get("to"), "to")
        async with self.gateway.pool.acquire() as conn:
            await self._refresh(conn)
            demand = await measured_demand(conn, start, end, int(base.interval_s),
                                           workspace=q.get("workspace") or None,
                                           pool=q.get("pool") or None)
        return plan(demand, base, model, patience)


def register(app: web.Application, gateway: Gateway, config: LiveConfig) -> None:
    """Add the analytics routes to the gateway's application."""
    routes = AnalyticsRoutes(gateway, config)
    app.router.add_get("/api/v1/reports", routes.report)
    app.router.add_get("/api/v1/staffing", routes.staffing)
