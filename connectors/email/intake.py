"""The HTTP shell of the email webhooks (Mailgun, SendGrid), served as the plugins' own routes.

The generic ingress handler cannot do three things email needs, so these routes
are served by the plugins themselves with the same checks, answers and metrics:

1. Mailgun replay protection across replicas: the token is looked up in the
   shared ledger *before* publishing and recorded only *after* Kafka
   acknowledged (a failed publish answers 503 and Mailgun's retry passes).
2. Bounce attribution: a bounce quotes the Message-ID of our reply; the
   conversation and outbound event recorded by ``omniroute email-delivery``
   for that Message-ID are put on the DeliveryStatus before it is published.
3. Attachment bytes (:mod:`.blobs`): stored in PostgreSQL before publishing, so a
   mail answered 2xx always has them (not without a configured database).

Order per request: size (413, the whole body read), content type (415),
signature/secret (401/403, Mailgun's read from the form's small fields without
parsing the mail), token not yet used (403 ``replayed_token``; a verified token is spent by any
answer but a 503, so a token refused once cannot come back with another body), body (400/406;
MIME parsed on a worker thread, with a bound on parts), attribution and event size (413),
attachment bytes stored (both 503 when PostgreSQL is down), publish (503), record the token,
answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from omniroute.contract import DeliveryStatus
from omniroute.errors import DatabaseError
from omniroute.ingress.metrics import REJECTIONS, REQUESTS, count_published
from omniroute.ingress.requests import UNEXPECTED_INPUT, read_body, webhook_request
from omniroute.observability.logs import get_logger
from omniroute.settings import Settings
from omniroute_connectors.base import (
    BadRequest,
    Connector,
    Event,
    Forbidden,
    Ingest,
    Publisher,
    PublishUnavailable,
    Route,
    UnsupportedMediaType,
    WebhookRejected,
    WebhookRequest,
)
from omniroute_connectors.bounds import fit_event
from omniroute_connectors.email.blobs import blobs_in
from omniroute_connectors.email.formdata import signed_fields, text_field
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


async def _request(request: web.Request, route: Route, settings: Settings) -> WebhookRequest:
    body = await read_body(request, route.max_body_bytes)
    given = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if given not in route.content_types:
        raise UnsupportedMediaType(f"content type {given or '(none)'!r} is not accepted; "
                                   f"send one of {', '.join(route.content_types)}")
    return webhook_request(settings, request, body)


def signed_token(hook: WebhookRequest) -> str:
    """The Mailgun ``token`` the verified signature covered (read without parsing the mail)."""
    return text_field(signed_fields(hook.header("content-type") or "", hook.body), "token")


def _handle(connector: Connector, hook: WebhookRequest) -> Ingest:
    """The plugin's pure mapping, run on a worker thread: MIME parsing of a large or
    many-part mail never stalls the event loop every other webhook shares."""
    try:
        return connector.handle(hook)
    except UNEXPECTED_INPUT as exc:
        raise BadRequest(f"the mail could not be read ({type(exc).__name__})",
                         reason="unusable_email") from exc


def email_handler(connector: Connector, route: Route, publisher: Publisher,
                  store: EmailStore | None, tokens: TokenLedger | None = None) -> Handler:
    """The aiohttp handler of one email webhook route (``tokens`` only for Mailgun)."""
    provider = connector.name
    settings = connector.settings

    def answer(status: int, reason: str, detail: str) -> web.Response:
        REJECTIONS.labels(provider, reason).inc()
        REQUESTS.labels(provider, str(status)).inc()
        log.info("webhook_rejected", provider=provider, status=status, reason=reason)
        return _error(status, reason, detail)

    async def spend(token: str, now: float) -> None:
        """Record a verified token as used (whatever the body's fate, except a 503)."""
        if tokens is None or not token:
            return
        try:
            await tokens.mark(token, now)
        except DatabaseError as exc:  # a replay would carry the same event ids
            log.warning("mailgun_token_unrecorded", error=exc.message)

    async def handle(request: web.Request) -> web.StreamResponse:
        token, now = "", time.time()
        try:
            hook = await _request(request, route, settings)
            try:
                connector.verify(hook)
            except UNEXPECTED_INPUT as exc:
                raise BadRequest(f"the form could not be read ({type(exc).__name__})") from exc
            if tokens is not None:
                signed = signed_token(hook)
                if await tokens.used(signed, now):
                    raise Forbidden("token was already used", reason="replayed_token")
                token = signed
            ingest = await asyncio.to_thread(_handle, connector, hook)
            events = await attribute_bounces(ingest.events, store, settings.workspace)
            events = [fit_event(e, settings.max_event_bytes) for e in events]
            if store is not None:
                await store.keep_attachments(blobs_in(ingest))
        except WebhookRejected as exc:
            if exc.reason != "replayed_token":
                await spend(token, now)  # refused once, refused with any other body too
            return answer(exc.status, exc.reason, exc.message)
        except DatabaseError as exc:
            return answer(503, "database_unavailable", exc.message)
        try:
            await publisher.publish(events)
        except PublishUnavailable as exc:
            return answer(503, "kafka_unavailable", exc.message)
        except WebhookRejected as exc:
            await spend(token, now)
            return answer(exc.status, exc.reason, exc.message)
        await spend(token, now)
        count_published("ingress", events)
        REQUESTS.labels(provider, str(ingest.response.status)).inc()
        response = ingest.response
        return web.Response(status=response.status, body=response.body,
                            headers={"Content-Type": response.content_type, **response.headers})

    return handle
