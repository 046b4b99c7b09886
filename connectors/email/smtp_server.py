"""The inbound SMTP service: a real SMTP server (aiosmtpd) for the support mailboxes.

It runs on the ingress host's event loop (``OMNIROUTE_SMTP_PORT``, default
2525) and answers, per RFC 5321:

- ``550 5.1.1`` at RCPT for an address that is not a configured mailbox (or
  its ``+token`` plus address), and in production for every address when no
  mailbox is configured;
- ``552`` when the message exceeds ``OMNIROUTE_SMTP_MAX_MESSAGE_BYTES``
  (advertised with the SIZE extension, enforced by aiosmtpd);
- ``554 5.6.0`` for mail the pipeline cannot use (no sender, no content, more
  MIME parts than the pipeline reads); parsing runs on a worker thread;
- the sender is authenticated (SPF of the peer, DKIM, DMARC: see
  :mod:`.authentication`) and the verdict recorded in the message's metadata;
- ``250`` only after the attachments' bytes are stored in PostgreSQL (when a
  database is configured; :mod:`.blobs`) and Kafka acknowledged the
  InboundMessage (or the bounce status); auto-replies are accepted with 250 and
  not published;
- ``451 4.3.0`` when Kafka does not acknowledge, or PostgreSQL cannot store the
  attachments or attribute a bounce to its conversation, so the sending server
  retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from omniroute.errors import InfrastructureError, RejectedInput
from omniroute.ingress.metrics import count_published
from omniroute.observability.logs import get_logger
from omniroute.observability.pipeline import REJECTIONS
from omniroute.settings import Environment, Settings
from omniroute_connectors.base import (
    Connector,
    Forbidden,
    Ingest,
    Publisher,
    Route,
    Service,
    WebhookRequest,
)
from omniroute_connectors.email.authentication import MailAuth, authenticate
from omniroute_connectors.email.intake import attribute_bounces
from omniroute_connectors.email.metrics import SUPPRESSED, refusal_reason
from omniroute_connectors.email.normalize import EmailContext, Suppressed, receive_email
from omniroute_connectors.email.store import EmailStore
from omniroute_connectors.email.webhooks import mailboxes

log = get_logger(__name__)
AUTH_TIMEOUT_SECONDS = 10.0


class MailboxHandler:
    """aiosmtpd handler: accept mail for the support mailboxes, publish, then answer 250."""

    def __init__(self, settings: Settings, publisher: Publisher,
                 store: EmailStore | None = None) -> None:
        self.settings = settings
        self.publisher = publisher
        self.store = store
        self.mailboxes = mailboxes(settings)
        self.authenticator: Callable[[bytes, str | None, str | None, str | None], MailAuth] = (
            authenticate)

    async def _authenticate(self, raw: bytes, session: Session, envelope: Envelope) -> MailAuth:
        """SPF/DKIM/DMARC on a worker thread, bounded by :data:`AUTH_TIMEOUT_SECONDS`."""
        peer = session.peer[0] if isinstance(session.peer, tuple) else None
        try:
            return await asyncio.wait_for(asyncio.to_thread(
                self.authenticator, raw, peer, envelope.mail_from, session.host_name),
                AUTH_TIMEOUT_SECONDS)
        except TimeoutError:
            return MailAuth(spf="temperror", dkim="temperror", dmarc="temperror")

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        """Refuse unknown recipients at RCPT time (550); in production, with no support
        mailbox configured, every recipient (an open relay for any address is refused)."""
        if not self.mailboxes.addresses and self.settings.env is Environment.PRODUCTION:
            return "550 5.1.1 no support mailbox is configured here (OMNIROUTE_EMAIL_MAILBOXES)"
        if self.mailboxes.addresses and not self.mailboxes.match(address):
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Normalize, store the attachments, publish; 250 only once Kafka acknowledged."""
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        context = EmailContext(
            provider="smtp",
            workspace=self.settings.workspace,
            envelope_recipients=tuple(envelope.rcpt_tos),
            envelope_sender=envelope.mail_from or None,
            mailboxes=self.mailboxes,
            auth=await self._authenticate(raw, session, envelope),
        )
        try:  # off the event loop: a large or many-part mail never stalls other traffic
            received = await asyncio.to_thread(
                receive_email, raw, context, self.settings.email_attachment_max_bytes)
        except RejectedInput as exc:
            log.info("smtp_rejected", reason="unusable_email")
            return f"554 5.6.0 {exc.message}"[:500]
        result = received.result
        if isinstance(result, Suppressed):
            log.info("smtp_suppressed", kind=result.kind.value, message_id=result.message_id)
            SUPPRESSED.labels(result.kind.value).inc()
            return "250 2.0.0 OK (not routed: automatic mail)"
        try:
            if self.store is not None:
                await self.store.keep_attachments(received.blobs)
            (result,) = await attribute_bounces([result], self.store, self.settings.workspace)
            await self.publisher.publish([result])
        except RejectedInput as exc:  # e.g. an event that cannot be bounded
            log.info("smtp_rejected", reason="event_too_large")
            return f"552 5.3.4 {exc.message}"[:500]
        except (TimeoutError, InfrastructureError, OSError) as exc:
            log.warning("smtp_publish_failed", error=str(exc), event_id=result.event_id)
            return "451 4.3.0 temporarily unable to accept the message, try again later"
        log.info("smtp_accepted", event_id=result.event_id,
                 attachments_stored=len(received.blobs) if self.store is not None else 0)
        count_published("email", [result])
        return f"250 2.0.0 OK queued as {result.event_id}"


class CountingSMTP(SMTP):
    """aiosmtpd's protocol, counting every refusal it answers (ours and its own, e.g.
    552 for mail over the size limit) in ``omniroute_rejections_total{provider="smtp"}``."""

    async def push(self, status: Any) -> None:
        line = status.decode("utf-8", "replace") if isinstance(status, bytes) else str(status)
        reason = refusal_reason(line)
        if reason is not None:
            REJECTIONS.labels("smtp", reason).inc()
        await super().push(status)


class SmtpService:
    """The SMTP server as a host :class:`~omniroute_connectors.base.Service`."""

    def __init__(self, settings: Settings, publisher: Publisher, port: int | None = None,
                 store: EmailStore | None = None) -> None:
        self.settings = settings
        self.store = store or (EmailStore(settings.database_url) if settings.database_url
                               else None)
        self.handler = MailboxHandler(settings, publisher, self.store)
        self.port = settings.smtp_port if port is None else port
        self._server: asyncio.base_events.Server | None = None

    def _protocol(self) -> SMTP:
        kwargs: dict[str, Any] = {
            "data_size_limit": self.settings.smtp_max_message_bytes,
            "enable_SMTPUTF8": True,
            "hostname": "omniroute",
        }
        return CountingSMTP(self.handler, **kwargs)

    async def start(self) -> None:
        """Listen on ``bind_host:smtp_port``."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, host=self.settings.bind_host, port=self.port
        )
        log.info("smtp_listening", host=self.settings.bind_host, port=self.port)

    async def stop(self) -> None:
        """Stop accepting connections."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self.store is not None:
            await self.store.stop()


class SmtpConnector(Connector):
    """The plugin that runs the SMTP service on the ingress host (no HTTP routes)."""

    name = "smtp"

    def routes(self) -> Sequence[Route]:
        return ()

    def verify(self, request: WebhookRequest) -> None:
        raise Forbidden("the smtp connector serves no HTTP routes")

    def handle(self, request: WebhookRequest) -> Ingest:
        raise Forbidden("the smtp connector serves no HTTP routes")

    def services(self, publisher: Publisher) -> Sequence[Service]:
        return (SmtpService(self.settings, publisher),)
