"""The HTTP shell of the email webhooks (Mailgun, SendGrid), served as the plugins' own routes.

The generic ingress handler cannot do two things email needs, so these routes
are served by the plugins themselves with the same checks, answers and metrics:

1. Mailgun replay protection across replicas: the token is looked up in the
   shared ledger *before* publishing and recorded only *after* Kafka
   acknowledged (a failed publish answers 503 and Mailgun's retry passes).
2. Bounce attribution: a bounce quotes the Message-ID of our reply; the
   conversation and outbound event recorded by ``omniroute email-delivery``
   for that Message-ID are put on the DeliveryStatus before it is published.

Order per request: size (413), content type (415), signature/secret (401/403),
token not yet used (403 ``replayed_token``), body (400/406), attribution
(503 when PostgreSQL is down), publish (503), record the token, answer.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from aiohttp import web

from omniroute.contract import DeliveryStatus
from omniroute.errors import DatabaseError
from omniroute.ingress.metrics import REJECTIONS, REQUESTS, count_published
from omniroute.observability.logs import get_logger
from omniroute_connectors.base import (
    Connector,
    Event,
    Forbidden,
    PayloadTooLarge,
    Publisher,
    PublishUnavailable,
    Route,
    UnsupportedMediaType,
    WebhookRejected,
    WebhookRequest,
)
from omniroute_connectors.email.formdata import form_fields, text_field
from omniroute_connectors.email.replay import TokenLedger
from omniroute_connectors.email.store import EmailStore, SentEmail

log = get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def attribute_bounce(status: DeliveryStatus, sent: SentEmail | None) -> DeliveryStatus:
    """A bounce status with the conversation and outbound event of the mail that bounced."""
    if sent is None:
        return status
    return status.model_copy(update={"conversation_id": sent.conversation_id,
                                     "outbound_event_id": sent.outbound_event_id})


async def attribute_bounces(events: Sequence[Event], store: EmailStore | None,
                            workspace: str) -> list[Event]:
    """Every bounce among ``events`` attributed through the sent-message table."""
    out: list[Event] = []
    for event in events:
        if (isinstance(event, DeliveryStatus) and store is not None
                and event.provider_message_id and event.conversation_id is None):
            event = attribute_bounce(event, await store.sent(event.provider_message_id,
                                                             workspace))
        out.append(event)
    return out


def _error(status: int, reason: str, detail: str) -> web.Response:
    return web.json_response({"error": reason, "detail": detail}, status=status)


async def _request(request: web.Request, route: Route) -> WebhookRequest:
    if (request.content_length or 0) > route.max_body_bytes:
        raise PayloadTooLarge(f"body exceeds the limit of {route.max_body_bytes} bytes")
    body = await request.content.read(route.max_body_bytes + 1)
    if len(body) > route.max_body_bytes:
        raise PayloadTooLarge(f"body exceeds the limit of {route.max_body_bytes} bytes")
    given = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if given not in route.content_types:
        raise UnsupportedMediaType(f"content type {given or '(none)'!r} is not accepted; "
                                   f"send one of {', '.join(route.content_types)}")
    return WebhookRequest(
        method=request.method, path=request.path, url=str(request.url),
        headers={k.lower(): v for k, v in request.headers.items()},
        query=list(request.query.items()), body=body, received_at=datetime.now(UTC))


def email_handler(connector: Connector, route: Route, publisher: Publisher,
                  store: EmailStore | None, tokens: TokenLedger | None = None) -> Handler:
    """The aiohttp handler of one email webhook route (``tokens`` only for Mailgun)."""
    provider = connector.name

    def answer(status: int, reason: str, detail: str) -> web.Response:
        REJECTIONS.labels(provider, reason).inc()
        REQUESTS.labels(provider, str(status)).inc()
        log.info("webhook_rejected", provider=provider, status=status, reason=reason,
                 detail=detail)
        return _error(status, reason, detail)

    async def handle(request: web.Request) -> web.StreamResponse:
        token, now = "", time.time()
        try:
            hook = await _request(request, route)
            connector.verify(hook)
            if tokens is not None:
                token = text_field(form_fields(hook.header("content-type") or "", hook.body),
                                   "token")
                if await tokens.used(token, now):
                    raise Forbidden("token was already used", reason="replayed_token")
            ingest = connector.handle(hook)
            events = await attribute_bounces(ingest.events, store, connector.settings.workspace)
        except WebhookRejected as exc:
            return answer(exc.status, exc.reason, exc.message)
        except DatabaseError as exc:
            return answer(503, "database_unavailable", exc.message)
        try:
            await publisher.publish(events)
        except PublishUnavailable as exc:
            return answer(503, "kafka_unavailable", exc.message)
        if tokens is not None:
            try:
                await tokens.mark(token, now)
            except DatabaseError as exc:  # published: a replay would carry the same event ids
                log.warning("mailgun_token_unrecorded", error=exc.message)
        count_published("ingress", events)
        REQUESTS.labels(provider, str(ingest.response.status)).inc()
        response = ingest.response
        return web.Response(status=response.status, body=response.body,
                            headers={"Content-Type": response.content_type, **response.headers})

    return handle
