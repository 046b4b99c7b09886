"""KakaoTalk (Kakao i Open Builder skill server): the connector plugin (``/webhooks/kakao``).

Open Builder POSTs a SkillPayload (``userRequest.utterance``, ``userRequest.user.id``
(the botUserKey), ``bot.id``, optional ``userRequest.callbackUrl``) and waits at
most 5 seconds for a SkillResponse. The skill answers right after Kafka
acknowledged: with callbacks enabled (``OMNIROUTE_KAKAO_USE_CALLBACK``, and the
block has a callbackUrl) ``{"version": "2.0", "useCallback": true, "data": {"text"}}``,
and the agent's real answer goes later to the callback URL (valid one minute);
otherwise a ``simpleText`` acknowledgement. An answer later than that goes through
Kakao's Event API when ``OMNIROUTE_KAKAO_REST_API_KEY`` is set (see
:mod:`omniroute_connectors.kakao.outbound`). Authenticity: Open Builder sends a
configured header; omniroute expects ``X-Omniroute-Kakao-Secret`` equal to
``OMNIROUTE_KAKAO_SECRET`` (or ``?secret=`` in the skill URL).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from omniroute.contract import Address, Channel, InboundMessage
from omniroute_connectors.base import (
    BadRequest,
    Connector,
    Forbidden,
    Ingest,
    Unauthorized,
    WebhookRequest,
    WebhookResponse,
)
from omniroute_connectors.mapping import require
from omniroute_connectors.outbound import OutboundSender
from omniroute_connectors.signatures import secret_equal

PROVIDER = "kakao"
SECRET_HEADER = "x-omniroute-kakao-secret"


def skill_text(text: str) -> dict[str, Any]:
    """A SkillResponse with one simpleText output."""
    return {"version": "2.0", "template": {"outputs": [{"simpleText": {"text": text}}]}}


RETRY_BUCKET_SECONDS = 10
"""Without a callback URL, requests of one user with identical bodies inside one
10-second bucket (Open Builder waits 5 s for an answer) are one event."""


def idempotency_key(payload: dict[str, Any], user_key: str,
                    received_at: datetime | None) -> str:
    """The event key of a skill request (Kakao sends no message or request id).

    With ``userRequest.callbackUrl`` (callbacks enabled on the block) the key is the
    user plus that URL: the bot engine issues a one-time callback URL per skill
    request, so it names the request, is carried unchanged by a resend of the same
    request, and no two utterances share it; the arrival time does not matter.
    Without it the key is the user, the canonical body and the 10-second bucket of
    the arrival time: a resend inside the same bucket is the same event, one that
    lands in the next bucket is a second event, and two identical utterances of one
    user inside one bucket collapse into one.
    """
    callback = (payload.get("userRequest") or {}).get("callbackUrl")
    if callback:
        material = f"{user_key}|cb|{callback}"
    else:
        seconds = int(received_at.timestamp()) if received_at else 0
        canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        material = f"{user_key}|{seconds // RETRY_BUCKET_SECONDS}|{canonical}"
    return hashlib.sha256(material.encode()).hexdigest()[:40]


def to_message(payload: dict[str, Any], request: WebhookRequest) -> InboundMessage:
    """The InboundMessage of one skill request (event id: :func:`idempotency_key`)."""
    user_request = require(payload, "userRequest", "body")
    user = require(user_request, "user", "userRequest")
    user_key = str(require(user, "id", "userRequest.user"))
    utterance = str(require(user_request, "utterance", "userRequest"))
    bot = str(require(payload.get("bot") or {}, "id", "bot"))
    key = idempotency_key(payload, user_key, request.received_at)
    meta = {"callback_url": str(user_request["callbackUrl"])} if user_request.get(
        "callbackUrl") else {}
    block = (user_request.get("block") or {}).get("name")
    if block:
        meta["block"] = str(block)
    plus_key = (user.get("properties") or {}).get("plusfriendUserKey")
    return InboundMessage(
        event_id=f"kakao:{key}", channel=Channel.KAKAO, provider=PROVIDER, channel_account=bot,
        sender=Address(value=user_key, scope=bot), recipient=Address(value=bot),
        provider_message_id=key, provider_timestamp=request.received_at, text=utterance,
        claimed={"plusfriend_user_key": str(plus_key)} if plus_key else {}, metadata=meta,
    )


class KakaoConnector(Connector):
    """Kakao skill requests in; the callback URL (or else the Event API) out."""

    name = "kakao"

    def enabled(self) -> bool:
        """Needs OMNIROUTE_KAKAO_SECRET."""
        return self.settings.kakao_secret is not None

    def verify(self, request: WebhookRequest) -> None:
        """The configured secret header (or ``secret`` query) equals OMNIROUTE_KAKAO_SECRET."""
        given = request.header(SECRET_HEADER) or request.query_value("secret")
        if not given:
            raise Unauthorized(f"{SECRET_HEADER} header is missing")
        expected = self.settings.kakao_secret
        assert expected is not None
        if not secret_equal(expected.get_secret_value(), given):
            raise Forbidden(f"{SECRET_HEADER} does not match")

    def handle(self, request: WebhookRequest) -> Ingest:
        """The message, then the acknowledgement SkillResponse (or the callback switch)."""
        payload = request.json()
        if not isinstance(payload, dict):
            raise BadRequest("body must be a SkillPayload object")
        message = to_message(payload, request)
        ack = self.settings.kakao_ack_text
        if self.settings.kakao_use_callback and "callback_url" in message.metadata:
            body: dict[str, Any] = {"version": "2.0", "useCallback": True, "data": {"text": ack}}
        else:
            body = skill_text(ack)
        return Ingest([message], WebhookResponse.json(body))

    def sender(self) -> OutboundSender | None:
        """The callback and Event API sender."""
        from omniroute_connectors.kakao.outbound import KakaoSender

        return KakaoSender(self.settings)
