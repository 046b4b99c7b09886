"""Proactive messages (pure): the business starts a conversation.

A request names the channel, the business account, the customer's address
and either text or a template. WhatsApp allows free text only within 24 hours
of the customer's last message; outside it only an approved template
(``template``) may be sent, and a request without one is refused. The
message is marked ``proactive``; its conversation id is the one given, or one
derived from the request id (a retried request makes the same message).
A WhatsApp recipient is kept as WhatsApp names the customer (the wa_id, digits only, as
its webhooks' ``from``): "+82 10-1111-2222" is ``821011112222``, so the window check and
the agent who later reads the customer's answer find the message by that address.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

from pydantic import BaseModel, Field, field_validator, model_validator

from omniroute.contract import (
    Address,
    Author,
    AuthorKind,
    Channel,
    OutboundMessage,
    Template,
)

PREFIX = "prc_"
"""The conversation id of a proactive message given none: it belongs to no conversation in
history until the customer answers (which opens one of its own)."""


def proactive_rows(alias: str = "") -> str:
    """SQL selecting the ``messages`` rows of proactive messages under their own id, word for
    word the predicate of migration 0022's index (PostgreSQL uses a partial index only for a
    query that implies its predicate)."""
    return f"{alias + '.' if alias else ''}conversation_id LIKE 'prc\\_%'"


WINDOW = timedelta(hours=24)
TEMPLATE_CHANNELS = frozenset({Channel.WHATSAPP})


class ProactiveRequest(BaseModel):
    """What the API and CLI accept."""

    request_id: str = Field(min_length=1, max_length=120)
    workspace: str = "default"
    channel: Channel
    channel_account: str = Field(min_length=1, max_length=320)
    recipient: str = Field(min_length=1, max_length=320)
    text: str | None = Field(default=None, max_length=4096)
    template: Template | None = None
    conversation_id: str | None = Field(default=None, max_length=200)
    customer_id: str | None = Field(default=None, max_length=200)
    author_id: str | None = Field(default=None, max_length=200)

    @field_validator("request_id", "workspace", "channel_account", "recipient", "text",
                     "conversation_id", "customer_id", "author_id")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        """PostgreSQL refuses NUL in text: refuse it here (a 400), not in a query (a 500)."""
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @model_validator(mode="after")
    def _wa_id(self) -> ProactiveRequest:
        """WhatsApp's address of the customer: the phone number's digits (its wa_id)."""
        if self.channel is Channel.WHATSAPP:
            self.recipient = re.sub(r"[\s()+.-]", "", self.recipient) or self.recipient
        return self


class ProactiveRefused(ValueError):
    """The message cannot be sent as asked (the reason says why)."""


def proactive_message(request: ProactiveRequest, last_inbound_at: datetime | None,
                      now: datetime) -> OutboundMessage:
    """The OutboundMessage for ``request``; refused outside the window without a template."""
    if not request.text and request.template is None:
        raise ProactiveRefused("a proactive message needs text or a template")
    in_window = last_inbound_at is not None and now - last_inbound_at <= WINDOW
    if request.channel in TEMPLATE_CHANNELS and request.template is None and not in_window:
        raise ProactiveRefused(
            f"the customer has not written on {request.channel.value} in 24 hours: "
            "send an approved template")
    needs_template = request.channel in TEMPLATE_CHANNELS and not in_window
    digest = hashlib.sha256(f"{request.workspace}\n{request.request_id}".encode()).hexdigest()
    return OutboundMessage(
        event_id=f"proactive.{digest[:40]}", occurred_at=now, workspace=request.workspace,
        conversation_id=request.conversation_id or f"{PREFIX}{digest[:24]}",
        customer_id=request.customer_id, channel=request.channel,
        channel_account=request.channel_account, recipient=Address(value=request.recipient),
        author=Author(kind=AuthorKind.AGENT if request.author_id else AuthorKind.SYSTEM,
                      id=request.author_id),
        text=None if needs_template else request.text,
        template=request.template if needs_template or not request.text else None,
        proactive=True, automation="proactive")
