"""What agent apps send, and the events it becomes: the pure core of the gateway.

Request bodies are pydantic models (they also feed the OpenAPI document).
Each ``*_event`` function turns an authorized request into the contract event
the gateway publishes; nothing here touches Kafka or PostgreSQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from omniroute.contract import (
    Address,
    AgentEvent,
    AgentEventKind,
    Author,
    AuthorKind,
    Channel,
    ConversationEvent,
    ConversationEventKind,
    OutboundMessage,
    Presence,
)
from omniroute.contract.inbound import MAX_TEXT_CHARS, ThreadHints
from omniroute.gateway.auth import Principal

Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
ClientId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PresenceRequest(Body):
    """Set the agent's presence."""

    presence: Presence


class ForcePresenceRequest(Body):
    """A supervisor sets an agent's presence."""

    presence: Presence
    reason: Annotated[str, Field(max_length=1000)] | None = None


class RerouteRequest(Body):
    """Route a waiting or parked conversation again (to ``pool``, else by the rules)."""

    pool: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    priority: Annotated[int, Field(ge=0, le=100)] | None = None
    reason: Annotated[str, Field(max_length=150)] | None = None


class ReplayRequest(Body):
    """Replay a dead letter; ``force`` takes over a replay started but never completed."""

    force: bool = False


class OfferAnswer(Body):
    """Accept or decline an offer."""

    conversation_id: Annotated[str, Field(min_length=1, max_length=200)]
    reason: Annotated[str, Field(max_length=1000)] | None = None


class ReplyRequest(Body):
    """A reply to the customer; on their last channel unless ``channel`` is given."""

    text: Text
    channel: Channel | None = None
    client_id: ClientId | None = Field(
        default=None, description="Idempotency key: the same client_id is the same reply, "
        "published once (a retry is answered 202 with the same event id and the header "
        "Idempotent-Replayed; a key used for another reply is refused 409).")


class NoteRequest(Body):
    """An internal note, never sent to the customer."""

    text: Text
    client_id: ClientId | None = Field(
        default=None, description="Idempotency key, as for replies: the same client_id is "
        "the same note, written once.")


class TagsRequest(Body):
    """Tags to add to the conversation."""

    tags: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]],
                    Field(min_length=1, max_length=20)]
    client_id: ClientId | None = Field(
        default=None, description="Idempotency key, as for replies: the same client_id is "
        "the same tagging, written once.")


class TransferRequest(Body):
    """Hand the conversation to another agent or pool."""

    target_agent_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    target_pool: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    reason: Annotated[str, Field(max_length=1000)] | None = None

    @model_validator(mode="after")
    def _has_target(self) -> TransferRequest:
        if not (self.target_agent_id or self.target_pool):
            raise ValueError("a transfer needs target_agent_id or target_pool")
        return self


class ResolveRequest(Body):
    """Resolve the conversation."""

    reason: Annotated[str, Field(max_length=1000)] | None = None


class TypingRequest(Body):
    """The agent started (``typing`` true) or stopped typing a reply."""

    typing: bool = Field(description="true while the agent types; false when they stop or send.")


def accepted(topic: str, event_id: str, headers: dict[str, str] | None = None) -> web.Response:
    """The 202 answer to a write: the event id and the topic Kafka took it on."""
    return web.json_response({"event_id": event_id, "topic": topic}, status=202,
                             headers=headers)


def new_event_id(kind: str, client_id: str | None = None, agent_id: str = "") -> str:
    """A gateway event id; stable for a client-supplied idempotency key."""
    if client_id:
        return f"gw:{kind}:{uuid.uuid5(uuid.NAMESPACE_URL, f'{agent_id}/{client_id}').hex}"
    return f"gw:{kind}:{uuid.uuid4().hex}"


def agent_event(who: Principal, kind: AgentEventKind, workspace: str, **fields: object
                ) -> AgentEvent:
    """An AgentEvent from the calling agent."""
    return AgentEvent(event_id=new_event_id(kind.value), workspace=workspace,
                      agent_id=who.agent_id, kind=kind, **fields)


def conversation_event(who: Principal, kind: ConversationEventKind, conversation: ConversationRef,
                       client_id: str | None = None, **fields: object) -> ConversationEvent:
    """A ConversationEvent (note, tag) written by an agent (its id stable for ``client_id``)."""
    return ConversationEvent(
        event_id=new_event_id(kind.value, client_id, who.agent_id),
        workspace=conversation.workspace,
        conversation_id=conversation.conversation_id, customer_id=conversation.customer_id,
        kind=kind, agent_id=who.agent_id, **fields,
    )


@dataclass(frozen=True)
class ConversationRef:
    """What the gateway knows of a conversation to write about it."""

    conversation_id: str
    customer_id: str
    workspace: str


@dataclass(frozen=True)
class Route:
    """Where a reply goes: the customer's address and our account on one channel, and for
    an email the thread of the customer's mail it answers."""

    channel: Channel
    recipient: str
    channel_account: str
    recipient_name: str | None = None
    thread: ThreadHints | None = None


def reply_message(who: Principal, conversation: ConversationRef, route: Route,
                  request: ReplyRequest, name: str | None = None) -> OutboundMessage:
    """The OutboundMessage of an agent's reply (``name``: what the customer sees)."""
    return OutboundMessage(
        event_id=new_event_id("reply", request.client_id, who.agent_id),
        workspace=conversation.workspace, conversation_id=conversation.conversation_id,
        customer_id=conversation.customer_id, channel=route.channel,
        channel_account=route.channel_account,
        recipient=Address(value=route.recipient, name=route.recipient_name),
        author=Author(kind=AuthorKind.AGENT, id=who.agent_id, name=name), text=request.text,
        thread=route.thread,
    )
