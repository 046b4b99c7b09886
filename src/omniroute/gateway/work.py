"""The agent's work on a conversation: reply, note, tag, transfer, resolve, typing, and
the canned responses; each checked like the others (the conversation is the caller's,
or the caller supervises) and published as the event its consumers understand."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from aiokafka.errors import KafkaError

from omniroute.contract import (
    AgentEventKind,
    ConversationEvent,
    ConversationEventKind,
    OutboundMessage,
    utcnow,
)
from omniroute.gateway import queries
from omniroute.gateway.admin import record_action
from omniroute.gateway.commands import (
    NoteRequest,
    ReplyRequest,
    ResolveRequest,
    TagsRequest,
    TransferRequest,
    TypingRequest,
    accepted,
    conversation_event,
    reply_message,
)
from omniroute.gateway.idempotency import Claim, ReplyKeys, digest, publish_once, refusal
from omniroute.gateway.problems import BadRequest, Conflict, Unavailable
from omniroute.observability.pipeline import END_TO_END_SECONDS, MESSAGES
from omniroute_connectors.webchat.indicators import TYPING_TOPIC, TypingSignal, publish_typing

if TYPE_CHECKING:
    from omniroute.gateway.app import Gateway

COMPONENT = "gateway"
FIRST_REPLIES_REMEMBERED = 10_000
Route = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]


class Work:
    """Handlers of an agent's actions on a conversation, over the gateway's plumbing."""

    def __init__(self, gateway: Gateway) -> None:
        self.g = gateway
        self.keys = ReplyKeys(gateway.pool)

    def routes(self) -> list[Route]:
        """(method, path, handler) of every route here."""
        one = "/api/v1/conversations/{conversation_id}"
        return [("POST", f"{one}/replies", self.reply), ("POST", f"{one}/notes", self.note),
                ("POST", f"{one}/tags", self.tag), ("POST", f"{one}/transfer", self.transfer),
                ("POST", f"{one}/resolve", self.resolve), ("POST", f"{one}/typing", self.typing),
                ("GET", "/api/v1/canned-responses", self.canned)]

    async def reply(self, request: web.Request) -> web.Response:
        who = await self.g.who(request)
        ref = await self.g.conversation(request, who)
        body = await self.g.body(request, ReplyRequest)
        route = await queries.reply_route(self.g.pool, ref, body.channel)
        if route is None:
            raise BadRequest(
                f"the customer has no known address on {body.channel.value}" if body.channel
                else "the conversation has no inbound message to reply to yet")
        message = reply_message(who, ref, route, body, await self.g.agent_name(who.agent_id))
        waiting_since = await queries.awaiting_first_reply(self.g.pool, ref.conversation_id)
        if body.client_id is None:
            response = await self.g.publish("omniroute.outbound.v1", ref.conversation_id,
                                            message)
        else:
            channel = body.channel.value if body.channel else None
            response = await self._publish_once("omniroute.outbound.v1", message, "reply",
                                                digest(ref.conversation_id, body.text, channel))
        if waiting_since is not None and ref.conversation_id not in self.g.first_replied:
            self._remember_first_reply(ref.conversation_id)
            END_TO_END_SECONDS.labels("first_reply", message.channel.value).observe(
                max(0.0, (utcnow() - waiting_since).total_seconds()))
        return response

    async def _publish_once(self, topic: str, event: OutboundMessage | ConversationEvent,
                            what: str, request: str) -> web.Response:
        """Publish a reply, note or tagging with a client_id unless its key was published already
        (:mod:`omniroute.gateway.idempotency`)."""
        claim, response = await publish_once(
            self.keys, event.event_id, request,
            lambda: self.g.publish(topic, event.conversation_id, event))
        if claim is Claim.REPLAYED:
            return accepted(topic, event.event_id, {"Idempotent-Replayed": "true"})
        if (refused := refusal(claim, "client_id", what)) is not None:
            raise Conflict(refused)
        assert response is not None
        return response

    def _remember_first_reply(self, conversation_id: str) -> None:
        self.g.first_replied[conversation_id] = None
        if len(self.g.first_replied) > FIRST_REPLIES_REMEMBERED:
            del self.g.first_replied[next(iter(self.g.first_replied))]

    async def note(self, request: web.Request) -> web.Response:
        who = await self.g.who(request)
        ref = await self.g.conversation(request, who)
        body = await self.g.body(request, NoteRequest)
        event = conversation_event(who, ConversationEventKind.NOTE_ADDED, ref, body.client_id,
                                   note=body.text)
        if body.client_id is None:
            return await self.g.publish("omniroute.conversations.v1", ref.conversation_id, event)
        return await self._publish_once("omniroute.conversations.v1", event, "note",
                                        digest(ref.conversation_id, body.text, "note"))

    async def tag(self, request: web.Request) -> web.Response:
        who = await self.g.who(request)
        ref = await self.g.conversation(request, who)
        body = await self.g.body(request, TagsRequest)
        event = conversation_event(who, ConversationEventKind.TAGGED, ref, body.client_id,
                                   tags=body.tags)
        if body.client_id is None:
            return await self.g.publish("omniroute.conversations.v1", ref.conversation_id, event)
        return await self._publish_once("omniroute.conversations.v1", event, "tagging",
                                        digest(ref.conversation_id, *sorted(body.tags), "tag"))

    async def transfer(self, request: web.Request) -> web.Response:
        who = await self.g.who(request)
        ref = await self.g.conversation(request, who)
        body = await self.g.body(request, TransferRequest)
        actor = await self.g.on_behalf(who, ref.conversation_id)
        target_pool = body.target_pool
        if body.target_agent_id is not None and target_pool is None:
            target_pool = await self._pool_of_target(actor.agent_id, body.target_agent_id)
        if actor is not who:
            await record_action(self.g.pool, who, "conversation.transfer", ref.conversation_id,
                                {"holder": actor.agent_id, **body.model_dump(exclude_none=True)})
        # published as the holder's: without a reason, say who did it (the activity read
        # "Transferred from bo → ada" as if bo had, and bo's notice said nothing of whom)
        reason = body.reason or (f"transferred by {who.agent_id}" if actor is not who else None)
        return await self.g.agent_says(
            actor, AgentEventKind.TRANSFER, conversation_id=ref.conversation_id,
            target_agent_id=body.target_agent_id, target_pool=target_pool, reason=reason)

    async def _pool_of_target(self, holder: str, target: str) -> str | None:
        """The pool a transfer to ``target`` goes through: theirs when it is not the
        holder's (the router pins the work to them there), else None (within the pool).

        The router only knows its own pool's agents: a supervisor reassigning a support
        conversation to a billing agent had it refused ("not another agent of this pool")
        in a user run, and the board showed nothing of it."""
        if target == holder:
            raise BadRequest(f"the conversation is already {target!r}'s")
        config = await self.g.pools_config()
        theirs = config.agent_pool(target)
        if theirs is None:
            raise BadRequest(f"agent {target!r} is in no routing pool")
        return theirs if theirs != config.agent_pool(holder) else None

    async def resolve(self, request: web.Request) -> web.Response:
        who = await self.g.who(request)
        ref = await self.g.conversation(request, who)
        body = await self.g.body(request, ResolveRequest)
        actor = await self.g.on_behalf(who, ref.conversation_id)
        if actor is not who:
            await record_action(self.g.pool, who, "conversation.resolve", ref.conversation_id,
                                {"holder": actor.agent_id, "reason": body.reason})
        return await self.g.agent_says(actor, AgentEventKind.RESOLVE,
                                     conversation_id=ref.conversation_id, reason=body.reason)

    async def typing(self, request: web.Request) -> web.Response:
        """The agent's typing state, for the visitor's widget (authorized like a reply)."""
        who = await self.g.who(request)
        ref = await self.g.conversation(request, who)
        body = await self.g.body(request, TypingRequest)
        signal = TypingSignal.agent(ref.workspace, ref.conversation_id, who.agent_id, body.typing,
                                    await self.g.agent_name(who.agent_id))
        try:
            await publish_typing(self.g.producer, self.g.settings, signal)
        except KafkaError as exc:
            raise Unavailable(f"Kafka did not take the typing state: {exc}; retry") from exc
        MESSAGES.labels(COMPONENT, TYPING_TOPIC, "none", "out").inc()
        return web.json_response({"topic": TYPING_TOPIC, "typing": body.typing}, status=202)

    async def canned(self, request: web.Request) -> web.Response:
        await self.g.who(request)
        return web.json_response({"canned_responses": await queries.canned_responses(
            self.g.pool, self.g.settings.workspace)})
