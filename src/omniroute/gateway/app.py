"""The gateway's HTTP + WebSocket application (aiohttp): a thin shell over commands and queries.

Reads come from PostgreSQL (history, written by the sink); every write is an
event published to Kafka (acks=all) and answered 202 once Kafka has it.
An agent reads and writes only the conversations assigned to them; a
supervisor, all of them.
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from aiohttp import WSMsgType, web
from aiokafka.errors import KafkaError
from prometheus_client import Counter
from pydantic import BaseModel, ValidationError

from omniroute.analytics import api as analytics_routes
from omniroute.automation.api import mount_on_gateway as mount_automation
from omniroute.contract import AgentEventKind, Envelope
from omniroute.errors import DatabaseError
from omniroute.gateway import queries
from omniroute.gateway.administration import Administration
from omniroute.gateway.attachments import Attachments
from omniroute.gateway.auth import STREAM_PROTOCOL, Principal, Role, bearer_token, hash_token
from omniroute.gateway.commands import (
    ConversationRef,
    OfferAnswer,
    PresenceRequest,
    accepted,
    agent_event,
)
from omniroute.gateway.openapi import document
from omniroute.gateway.problems import (
    ApiProblem,
    BadRequest,
    Forbidden,
    NotFound,
    NotYetAssigned,
    Unauthorized,
    Unavailable,
)
from omniroute.gateway.routing_stats import RoutingStats
from omniroute.gateway.security import security_headers, security_middleware, stream_token
from omniroute.gateway.stream import SUPERVISORS, Fanout
from omniroute.gateway.supervision import CONFIG_TTL_S, Supervision
from omniroute.gateway.work import Work
from omniroute.infra.guarded_producer import GuardedProducer
from omniroute.infra.postgres import UNAVAILABLE as DATABASE_UNAVAILABLE
from omniroute.infra.sockets import close_sockets_on_shutdown, track
from omniroute.knowledge.routes import add_routes as add_knowledge_routes
from omniroute.observability.health import Health
from omniroute.observability.logs import get_logger
from omniroute.observability.metrics import metrics_handler
from omniroute.observability.pipeline import MESSAGES, REJECTIONS
from omniroute.routing.config import BUILTIN, RoutingConfig
from omniroute.settings import Settings

STATIC = Path(__file__).parent / "static"
CONFIG_WAIT_S = 3.0
"""How long a presence read waits for the live configuration before using the last one."""
REQUESTS = Counter("omniroute_gateway_requests_total", "API requests by route and status.",
                   ["route", "status"])
COMPONENT = "gateway"
RETRY_AFTER_S = Unavailable.retry_after
"""What a 503 asks the client to wait before retrying (``Retry-After``)."""
log = get_logger(__name__)
B = TypeVar("B", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _from_database(exc: BaseException) -> bool:
    """Whether an unavailability error came from asyncpg or the database layer (a bare
    OSError or timeout may come from any connection the request used)."""
    return isinstance(exc, DatabaseError) or type(exc).__module__.startswith("asyncpg") or \
        any(frame.f_globals.get("__name__", "").startswith("asyncpg")
            for frame, _line in traceback.walk_tb(exc.__traceback__))


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer ApiProblems with their status and JSON body; count every request."""
    route = request.match_info.route.resource.canonical if request.match_info.route.resource \
        else "unmatched"
    try:
        response = await handler(request)
    except ApiProblem as exc:
        if 400 <= exc.status < 500:
            REJECTIONS.labels(COMPONENT, exc.code).inc()
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        response = web.json_response(exc.body, status=exc.status, headers=headers)
    except DATABASE_UNAVAILABLE as exc:  # a database outage: retry, not a server bug (500)
        log.warning("gateway_database_unavailable", route=route,
                    error=f"{type(exc).__name__}: {exc}")
        what = "PostgreSQL cannot" if _from_database(exc) else \
            "a service the gateway needs (PostgreSQL or Kafka) did not"
        problem = Unavailable(f"{what} take the request now ({type(exc).__name__}); retry")
        response = web.json_response(problem.body, status=problem.status,
                                     headers={"Retry-After": str(RETRY_AFTER_S)})
    except web.HTTPException as exc:
        REQUESTS.labels(route, str(exc.status)).inc()
        if 400 <= exc.status < 500:
            REJECTIONS.labels(COMPONENT, f"http_{exc.status}").inc()
        raise
    REQUESTS.labels(route, str(response.status)).inc()
    return response


def nul_at(value: object, path: str = "") -> str | None:
    """The dotted path of the first string (value or key) in a JSON document holding a NUL
    character, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        items: list[tuple[object, object]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return None
    for key, item in items:
        inner = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return inner
        found = nul_at(item, inner)
        if found is not None:
            return found
    return None


@dataclass
class Gateway:
    """The gateway's dependencies, injected by the composition root (``omniroute gateway``)."""

    settings: Settings
    pool: asyncpg.Pool
    producer: GuardedProducer
    fanout: Fanout
    first_replied: dict[str, None] = field(default_factory=dict)
    """Conversations whose first reply this process timed (history lags the topics)."""
    live: tuple[float, int, RoutingConfig] | None = None
    """The live routing configuration as last read, with when (monotonic)."""

    async def routing_config(self) -> tuple[int, RoutingConfig]:
        """The live routing configuration and its version, read at most every few seconds."""
        cached = self.live
        if cached is not None and time.monotonic() - cached[0] < CONFIG_TTL_S:
            return cached[1], cached[2]
        from omniroute.routing.live import read_config

        version, config = await read_config(self.settings)
        self.live = (time.monotonic(), version, config)
        return version, config

    def forget_config(self) -> None:
        """Read the live configuration again at the next ask: this gateway just published a
        new version (an admin added a pool, and a supervisor's re-route to it within the
        cache's seconds was refused). The old one stays the fallback while Kafka is away."""
        if self.live is not None:
            self.live = (float("-inf"), self.live[1], self.live[2])

    async def pools_config(self) -> RoutingConfig:
        """The live configuration for reads that must not wait on Kafka (an agent's presence
        needs its pools' policies): the last one read, or the built-in one, while Kafka does
        not answer within a few seconds."""
        try:
            return (await asyncio.wait_for(self.routing_config(), CONFIG_WAIT_S))[1]
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("gateway.config_unavailable", error=repr(exc))
            cached = self.live
            if cached is None:
                return BUILTIN
            self.live = (time.monotonic(), cached[1], cached[2])  # not asked again at once
            return cached[2]

    async def agent_name(self, agent_id: str) -> str | None:
        """The name customers see on ``agent_id``'s replies and typing (the live routing
        configuration's ``name`` of the agent), if any."""
        return (await self.pools_config()).agent_name(agent_id)

    # -- plumbing ------------------------------------------------------------------------
    async def who(self, request: web.Request) -> Principal:
        """The authenticated caller, or 401."""
        token = bearer_token(request.headers.get("Authorization"), stream_token(request))
        found = await queries.principal(self.pool, hash_token(token))
        if isinstance(found, str):
            raise Unauthorized(found)
        return found

    async def body(self, request: web.Request, model: type[B]) -> B:
        """The request body validated as ``model``, or 400 naming each problem."""
        try:
            raw = await request.json() if request.can_read_body else {}
        except json.JSONDecodeError as exc:
            raise BadRequest(f"the body is not JSON: {exc.msg}") from exc
        where = nul_at(raw)
        if where is not None:  # PostgreSQL stores no NUL in text or jsonb: a 400, not a 500
            raise BadRequest(f"{where or 'body'}: must not contain NUL characters")
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            details = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
            raise BadRequest(details) from exc

    async def conversation(self, request: web.Request, who: Principal,
                           read: bool = False) -> ConversationRef:
        """The conversation in the path, if it exists and the caller may act on it.

        ``read``: an agent may also read the customer's other conversations while they
        hold one of that customer's open conversations (the customer's history).
        """
        cid = request.match_info["conversation_id"]
        ref = await queries.conversation_ref(self.pool, cid)
        if ref is None:
            raise NotFound(f"no conversation {cid!r}")
        if who.supervisor or await queries.holder(self.pool, cid) == who.agent_id:
            return ref
        if read and await queries.holds_customer(self.pool, who.agent_id, ref.customer_id):
            return ref
        if await queries.offered_to(self.pool, who.agent_id, cid):
            raise NotYetAssigned(f"conversation {cid!r} is offered to you and not assigned yet: "
                                 "accept the offer, and retry once the assignment arrives")
        raise Forbidden(f"conversation {cid!r} is not assigned to you")

    async def publish(self, topic: str, key: str, event: Envelope) -> web.Response:
        """Publish one event and answer 202 once Kafka acknowledged it."""
        try:
            await self.producer.send_and_wait(self.settings.topic(topic), event.to_json_bytes(),
                                              key=key.encode())
        except KafkaError as exc:
            raise Unavailable(f"Kafka did not take the event: {exc}; retry") from exc
        MESSAGES.labels(COMPONENT, topic, channel_of(event), "out").inc()
        return accepted(topic, event.event_id)

    async def agent_says(self, who: Principal, kind: AgentEventKind,
                         **fields: Any) -> web.Response:
        event = agent_event(who, kind, self.settings.workspace, **fields)
        return await self.publish("omniroute.agent-events.v1", who.agent_id, event)

    async def on_behalf(self, who: Principal, conversation_id: str) -> Principal:
        """Who an action on the conversation is published as: its holder when a supervisor
        acts on someone else's conversation (the router takes it from the holder), else the
        caller. Supervisor actions are written to the audit log."""
        holder = await queries.holder(self.pool, conversation_id)
        if not who.supervisor or holder is None or holder == who.agent_id:
            return who
        return Principal(holder, Role.AGENT)

    # -- handlers --------------------------------------------------------------------------
    async def me(self, request: web.Request) -> web.Response:
        who = await self.who(request)
        config = await self.pools_config()
        presence, why = await queries.presence_and_why(self.pool, who.agent_id, config)
        return web.json_response({"agent_id": who.agent_id, "role": who.role.value,
                                  "presence": presence, "away_reason": why,
                                  "routed": config.agent_pool(who.agent_id) is not None})

    async def presence(self, request: web.Request) -> web.Response:
        who = await self.who(request)
        body = await self.body(request, PresenceRequest)
        return await self.agent_says(who, AgentEventKind.PRESENCE, presence=body.presence)

    async def heartbeat(self, request: web.Request) -> web.Response:
        return await self.beat(await self.who(request))

    async def beat(self, who: Principal) -> web.Response:
        """A heartbeat carrying the presence the agent's app shows (what she last chose, as
        the history has it): a pool that has not heard her presence since she joined it
        takes it (an admin put her back while her app said "available"). Without the
        database the heartbeat goes without it: it still proves her app alive."""
        shown: str | None
        try:
            shown = await asyncio.wait_for(
                queries.presence(self.pool, who.agent_id, await self.pools_config()),
                CONFIG_WAIT_S)
        except DATABASE_UNAVAILABLE as exc:
            log.warning("gateway.heartbeat_without_presence", agent_id=who.agent_id,
                        error=repr(exc))
            shown = None
        return await self.agent_says(who, AgentEventKind.HEARTBEAT, presence=shown)

    async def offers(self, request: web.Request) -> web.Response:
        who = await self.who(request)
        return web.json_response({"offers": await queries.pending_offers(self.pool, who.agent_id)})

    async def answer_offer(self, request: web.Request, kind: AgentEventKind) -> web.Response:
        who = await self.who(request)
        body = await self.body(request, OfferAnswer)
        offer_id = request.match_info["offer_id"]
        owner = await queries.offer_owner(self.pool, offer_id)
        if owner is not None and owner != who.agent_id:
            raise Forbidden(f"offer {offer_id!r} was made to another agent")
        return await self.agent_says(who, kind, offer_id=offer_id,
                                     conversation_id=body.conversation_id, reason=body.reason)

    async def accept(self, request: web.Request) -> web.Response:
        return await self.answer_offer(request, AgentEventKind.ACCEPT)

    async def decline(self, request: web.Request) -> web.Response:
        return await self.answer_offer(request, AgentEventKind.DECLINE)

    async def conversations(self, request: web.Request) -> web.Response:
        who = await self.who(request)
        return web.json_response(
            {"conversations": await queries.conversations_of(self.pool, who)})

    async def conversation_detail(self, request: web.Request) -> web.Response:
        who = await self.who(request)
        ref = await self.conversation(request, who, read=True)
        view = await queries.conversation_view(self.pool, ref.conversation_id)
        view["holder"] = await queries.holder(self.pool, ref.conversation_id)
        return web.json_response(view)

    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        """WebSocket: a snapshot, then every assignment event of the agent as it happens."""
        who = await self.who(request)
        ws = web.WebSocketResponse(heartbeat=30, protocols=(STREAM_PROTOCOL,))
        await ws.prepare(request)
        track(request, ws)  # closed (1001) when the gateway stops: consoles reconnect at once
        key = SUPERVISORS if who.supervisor else who.agent_id
        queue = self.fanout.subscribe(key)
        pump = asyncio.create_task(self._pump(queue, ws))
        try:
            await ws.send_json({
                "type": "snapshot",
                "presence": await queries.presence(self.pool, who.agent_id,
                                                   await self.pools_config()),
                "offers": await queries.pending_offers(self.pool, who.agent_id),
                "conversations": await queries.conversations_of(self.pool, who),
            })
            async for message in ws:
                if message.type == WSMsgType.TEXT and message.data == '{"type":"heartbeat"}':
                    await self.beat(who)
        finally:
            pump.cancel()
            self.fanout.unsubscribe(key, queue)
        return ws

    async def _pump(self, queue: asyncio.Queue[Any], ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            event = await queue.get()
            await ws.send_json({"type": "assignment",
                                "event": event.model_dump(mode="json", exclude_none=True)})

    async def openapi(self, _request: web.Request) -> web.Response:
        return web.json_response(document())

    async def index(self, _request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")


def channel_of(event: Envelope) -> str:
    """The ``channel`` label of an event: its channel, else "none"."""
    channel = getattr(event, "channel", None)
    return str(channel.value) if channel is not None else "none"


async def revalidate_console(request: web.Request, response: web.StreamResponse) -> None:
    """The console's pages and scripts are revalidated on every load (a 304 when unchanged):
    with no Cache-Control, browsers kept running the old console.js for hours after an
    upgrade (heuristic freshness from Last-Modified), as a user run's console did."""
    if (request.path == "/" or request.path.startswith("/console/")) \
            and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-cache"


def build_app(gateway: Gateway, health: Health) -> web.Application:
    """The aiohttp application with every route of the API and the console."""
    app = web.Application(middlewares=[problems, security_middleware(gateway)])
    close_sockets_on_shutdown(app)
    app.on_response_prepare.append(security_headers)
    g = gateway
    api = "/api/v1"
    app.router.add_get(f"{api}/me", g.me)
    app.router.add_post(f"{api}/presence", g.presence)
    app.router.add_post(f"{api}/heartbeat", g.heartbeat)
    app.router.add_get(f"{api}/offers", g.offers)
    app.router.add_post(f"{api}/offers/{{offer_id}}/accept", g.accept)
    app.router.add_post(f"{api}/offers/{{offer_id}}/decline", g.decline)
    app.router.add_get(f"{api}/conversations", g.conversations)
    app.router.add_get(f"{api}/conversations/{{conversation_id}}", g.conversation_detail)
    app.router.add_get(f"{api}/stream", g.stream)
    routing_stats = RoutingStats(g, g.routing_config)
    supervision = Supervision(g, routing_stats.latest)
    attachments = Attachments(g)
    for method, path, handler in [*Work(g).routes(), *supervision.routes(),
                                  *Administration(g).routes(), *attachments.routes(),
                                  *routing_stats.routes()]:
        app.router.add_route(method, path, handler)
    app.on_cleanup.append(lambda _app: attachments.close())
    mount_automation(app, g)  # /api/v1/automation/... (supervisors): rules, dry run, proactive
    analytics_routes.register(app, g, supervision.config)
    add_knowledge_routes(app, g)
    app.router.add_get("/openapi.json", g.openapi)
    app.router.add_get("/metrics", metrics_handler)
    health.mount(app)
    app.router.add_get("/", g.index)
    app.router.add_static("/console/", STATIC)
    app.on_response_prepare.append(revalidate_console)
    return app
