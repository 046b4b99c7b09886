"""Supervisor routes: force an agent's status, reassign, re-route, the board, dead letters.

Every route needs a supervisor or admin token; every action is published as
the event the router already understands (an AgentEvent on behalf of the agent
concerned, a RoutingRequest, a replayed record) and audited in PostgreSQL.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiokafka.errors import KafkaError

from omniroute.contract import AgentEventKind
from omniroute.deadletters import ledger
from omniroute.gateway import board, queries
from omniroute.gateway.admin import record_action
from omniroute.gateway.auth import Principal, Role
from omniroute.gateway.commands import ForcePresenceRequest, ReplayRequest, RerouteRequest
from omniroute.gateway.problems import Conflict, Forbidden, Unavailable
from omniroute.infra.guarded_producer import Record
from omniroute.routing.config import RoutingConfig
from omniroute.routing.requests import TOPIC as ROUTING_TOPIC
from omniroute.routing.requests import RoutingRequest, RoutingRequestKind
from omniroute.routing.wire import POOL_TOPIC, move_record, request_record

if TYPE_CHECKING:
    from omniroute.gateway.app import Gateway

CONFIG_TTL_S = 3.0
Route = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]


def require_supervisor(who: Principal) -> Principal:
    """The caller, if a supervisor or admin; else 403."""
    if not who.supervisor:
        raise Forbidden(f"this needs a supervisor or admin token; {who.agent_id} is an agent")
    return who


def require_pool(config: RoutingConfig, pool: str) -> None:
    """409 for a pool the live routing configuration does not have."""
    if pool not in config.pools:
        raise Conflict(f"pool {pool!r} is not in the live routing configuration "
                       f"(pools: {', '.join(sorted(config.pools))})")


class Supervision:
    """Handlers of the supervisor API, over the gateway's plumbing."""

    def __init__(self, gateway: Gateway,
                 published: Callable[[], Awaitable[dict[str, dict[str, Any]]]]) -> None:
        self.g = gateway
        self.published = published
        """The routers' latest figures per pool (``RoutingStats.latest``)."""

    async def supervisor(self, request: web.Request) -> Principal:
        """The authenticated supervisor (401/403 otherwise)."""
        return require_supervisor(await self.g.who(request))

    async def force_presence(self, request: web.Request) -> web.Response:
        """Set another agent's presence (e.g. away for an agent who left their desk)."""
        who = await self.supervisor(request)
        agent_id = request.match_info["agent_id"]
        body = await self.g.body(request, ForcePresenceRequest)
        reason = body.reason or f"set by {who.role.value} {who.agent_id}"
        await record_action(self.g.pool, who, "agent.presence", agent_id,
                            {"presence": body.presence.value, "reason": reason})
        return await self.g.agent_says(Principal(agent_id, Role.AGENT), AgentEventKind.PRESENCE,
                                       presence=body.presence, reason=reason)

    async def config(self) -> tuple[int, RoutingConfig]:
        """The live routing configuration (the gateway's, read at most every few seconds)."""
        return await self.g.routing_config()

    async def board(self, request: web.Request) -> web.Response:
        """Waiting work per pool, agents by status, parked conversations."""
        await self.supervisor(request)
        version, config = await self.config()
        try:
            published = await self.published()
        except Unavailable:  # without Kafka the board still shows what history knows
            published = {}
        return web.json_response(await board.board(self.g.pool, config, version, published))

    async def reroute(self, request: web.Request) -> web.Response:
        """Route a waiting, parked or bot-held conversation again (409 when an agent holds
        it: transfer it instead).

        Parked work, and work with the answer bot, is in no pool: a new routing request
        takes it (straight into the named pool's stream, else to the router, whose rules
        choose). Work waiting in a pool, queued or offered, is *moved*: every pool's stream
        gets the move, the pool holding the work rescinds its offer and forwards it to the
        target, keeping its age, and a ``rerouted`` conversation event names the new pool.
        (Until 2026-12-05 a re-route only put the work in the second pool too: a user run's
        supervisor moved an offered email from billing to support, and both pools' agents
        were assigned it.)"""
        who = await self.supervisor(request)
        ref = await self.g.conversation(request, who)
        body = await self.g.body(request, RerouteRequest)
        holder = await queries.holder(self.g.pool, ref.conversation_id)
        if holder is not None:
            raise Conflict(f"conversation {ref.conversation_id!r} is assigned to {holder}: "
                           "transfer it instead")
        facts = await queries.routing_facts(self.g.pool, ref.conversation_id)
        if facts is None:
            raise Conflict(f"conversation {ref.conversation_id!r} has no channel yet")
        reason = (body.reason or f"re-routed by {who.agent_id}")[:200]
        version, config = await self.config()
        if body.pool is not None and version:
            require_pool(config, body.pool)
        waiting = await board.waiting_one(self.g.pool, config, ref.conversation_id)
        await record_action(self.g.pool, who, "conversation.reroute", ref.conversation_id,
                            body.model_dump(exclude_none=True))
        if waiting is not None and waiting["parked_at"] is None and not waiting["with_bot"]:
            return await self._move(ref.conversation_id, config, waiting["pool"], body.pool,
                                    body.priority, reason)
        routing = RoutingRequest(
            event_id=f"gw:reroute:{uuid.uuid4().hex}", workspace=ref.workspace,
            kind=RoutingRequestKind.ROUTE, conversation_id=ref.conversation_id,
            customer_id=ref.customer_id, channel=facts[0], pool=body.pool,
            priority=body.priority or 0, waiting_since=facts[1], reason=reason,
            was_parked=True if waiting is not None and waiting["parked_at"] is not None
            else None)
        if body.pool is None or not version:  # the router's rules choose, or its imported file
            return await self.g.publish(ROUTING_TOPIC, ref.conversation_id, routing)
        # the pool is known: straight into its stream, one hop (omniroute.routing.entry)
        return await self._to_pools(
            [request_record(routing, body.pool, time.time(), direct=True)], routing.event_id,
            body.pool)

    async def _move(self, conversation_id: str, config: RoutingConfig, current: str | None,
                    target: str | None, priority: int | None, reason: str) -> web.Response:
        """Tell every pool's stream to move the conversation to ``target`` (see
        :meth:`reroute`); without a target it stays where it waits, with the new priority."""
        if target is not None:
            require_pool(config, target)
        target = target or current
        if target is None:
            raise Conflict(f"conversation {conversation_id!r} waits in no pool the routing "
                           "configuration names: name the pool to move it to")
        event_id = f"gw:move:{uuid.uuid4().hex}"
        at = time.time()
        pools = sorted({*config.pools, target, *([current] if current else [])})
        return await self._to_pools(
            [move_record(pool, at, f"{event_id}:{pool}", conversation_id, target, reason,
                         priority) for pool in pools], event_id, target)

    async def _to_pools(self, records: list[tuple[str, bytes, bytes]], event_id: str,
                        pool: str) -> web.Response:
        """Write ``records`` (pool-stream inputs) with one wait for all of them, and answer
        202 naming the pool the re-route went to (503 when Kafka does not take them)."""
        try:
            await self.g.producer.send_all([Record(self.g.settings.topic(topic), value, key,
                                                   None) for topic, key, value in records])
        except KafkaError as exc:
            raise Unavailable(f"Kafka did not take the re-route: {exc}; retry") from exc
        return web.json_response({"event_id": event_id, "topic": POOL_TOPIC, "pool": pool},
                                 status=202)

    async def dead_letters(self, request: web.Request) -> web.Response:
        await self.supervisor(request)
        q = request.query
        replayed = {"true": True, "false": False}.get(q.get("replayed", ""))
        return web.json_response({"dead_letters": await ledger.list_dead_letters(
            self.g.pool, processor=q.get("processor"), topic=q.get("topic"),
            replayed=replayed, contains=q.get("contains"),
            limit=min(int(q.get("limit", "100") or 100), 1000))})

    async def dead_letter(self, request: web.Request) -> web.Response:
        await self.supervisor(request)
        return web.json_response(
            await ledger.show_dead_letter(self.g.pool, request.match_info["event_id"]))

    async def replay(self, request: web.Request) -> web.Response:
        who = await self.supervisor(request)
        body = await self.g.body(request, ReplayRequest)
        async with self.g.pool.acquire() as conn:
            done = await ledger.replay(conn, self.g.producer, request.match_info["event_id"],
                                       f"{who.role.value}:{who.agent_id}", force=body.force)
        return web.json_response(done, status=202)

    async def refusals(self, request: web.Request) -> web.Response:
        """The caller's agent events the router refused, newest first, with the reason."""
        who = await self.g.who(request)
        return web.json_response({"refusals": await queries.refusals(self.g.pool, who.agent_id)})

    def routes(self) -> list[Route]:
        """(method, path, handler) of every supervisor route."""
        api = "/api/v1"
        return [
            ("POST", f"{api}/agents/{{agent_id}}/presence", self.force_presence),
            ("GET", f"{api}/board", self.board),
            ("POST", f"{api}/conversations/{{conversation_id}}/reroute", self.reroute),
            ("GET", f"{api}/dead-letters", self.dead_letters),
            ("GET", f"{api}/dead-letters/{{event_id}}", self.dead_letter),
            ("POST", f"{api}/dead-letters/{{event_id}}/replay", self.replay),
            ("GET", f"{api}/refusals", self.refusals),
        ]
