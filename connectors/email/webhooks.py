"""Mailgun routes and SendGrid Inbound Parse as connector plugins.

Both are served by :mod:`.intake` (their own routes, not the generic host
handler) so that replay tokens and bounce attribution can use PostgreSQL around
the publish. Both deliver the raw MIME (Mailgun's ``body-mime`` when the route forwards to
a URL ending in ``mime``; SendGrid's ``email`` field with "POST the raw, full
MIME message" checked), which goes through the one pipeline in
:mod:`.normalize`. Without raw MIME, the posted headers and text/HTML bodies
are reassembled into a message first. ``handle`` answers a
:class:`~.blobs.MailIngest`: the attachments' bytes, which :mod:`.intake` stores
before publishing.

- Mailgun (``POST /webhooks/mailgun`` or ``/webhooks/mailgun/mime``): ``signature`` = hex
  HMAC-SHA256(signing key, ``timestamp`` + ``token``); a timestamp more than
  :data:`MAILGUN_MAX_AGE_SECONDS` from now is stale, a token is accepted once
  across replicas (:mod:`.replay`, checked and recorded around the publish by
  :mod:`.intake`). An unknown mailbox answers 406, which Mailgun does not retry.
- SendGrid (``POST /webhooks/sendgrid/<secret>``): SendGrid does not sign, so
  the URL carries a secret path segment (``OMNIROUTE_SENDGRID_INBOUND_SECRET``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage

from omniroute.errors import RejectedInput
from omniroute.settings import Settings
from omniroute_connectors.base import (
    BadRequest,
    Connector,
    Forbidden,
    Ingest,
    Publisher,
    RawRoute,
    Route,
    Service,
    Unauthorized,
    WebhookRejected,
    WebhookRequest,
)
from omniroute_connectors.email.authentication import mailgun_verdict, sendgrid_verdict
from omniroute_connectors.email.blobs import MailIngest
from omniroute_connectors.email.formdata import form_fields, signed_fields, text_field
from omniroute_connectors.email.intake import email_handler
from omniroute_connectors.email.normalize import (
    EmailContext,
    Mailboxes,
    ReceivedEmail,
    Suppressed,
    receive_email,
)
from omniroute_connectors.email.replay import PostgresTokens, TokenLedger, TokenMemory
from omniroute_connectors.email.store import EmailStore
from omniroute_connectors.signatures import same

MAILGUN_MAX_AGE_SECONDS = 300
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
MAX_MAIL_BYTES = 30 * 1024 * 1024


class UnknownMailbox(WebhookRejected):
    """406: the mail is not for a configured support mailbox (Mailgun does not retry 406)."""

    status = 406
    reason = "unknown_recipient"


def mailboxes(settings: Settings) -> Mailboxes:
    """The configured support mailboxes (``OMNIROUTE_EMAIL_MAILBOXES``)."""
    return Mailboxes.of(*settings.email_mailboxes.split(","))


def mailgun_signature(signing_key: str, timestamp: str, token: str) -> str:
    """Mailgun's signature of a webhook: hex HMAC-SHA256(key, timestamp + token)."""
    return hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def assemble(headers: list[tuple[str, str]], text: str, html: str) -> bytes:
    """A MIME message from posted headers and bodies (when no raw MIME was posted)."""
    message = EmailMessage()
    for name, value in headers:
        if name.lower() not in ("content-type", "content-transfer-encoding", "mime-version"):
            message[name] = value
    message.set_content(text or " ")
    if html:
        message.add_alternative(html, subtype="html")
    return message.as_bytes()


def to_ingest(received: ReceivedEmail) -> MailIngest:
    """Publish an InboundMessage (its attachments' bytes stored first) or a bounce status;
    acknowledge suppressed mail silently."""
    if isinstance(received.result, Suppressed):
        return MailIngest(events=())
    return MailIngest(events=(received.result,), blobs=received.blobs)


class EmailWebhook(Connector):
    """Shared shell wiring: the plugin serves :meth:`mail_routes` through :mod:`.intake`."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.store = EmailStore(settings.database_url) if settings.database_url else None

    def mail_routes(self) -> Sequence[Route]:
        """The routes, served by :func:`~.intake.email_handler`."""
        return ()

    def routes(self) -> Sequence[Route]:
        return ()  # served as raw routes: see the module docstring

    def ledger(self) -> TokenLedger | None:
        """The replay ledger (Mailgun only)."""
        return None

    def raw_routes(self, publisher: Publisher) -> Sequence[RawRoute]:
        ledger = self.ledger()
        return tuple(
            RawRoute(route.path, method, email_handler(self, route, publisher, self.store,
                                                       ledger))
            for route in self.mail_routes() for method in route.methods)

    def services(self, publisher: Publisher) -> Sequence[Service]:
        return (self.store,) if self.store is not None else ()


def _normalize(raw: bytes, context: EmailContext, settings: Settings) -> ReceivedEmail:
    try:
        return receive_email(raw, context, settings.email_attachment_max_bytes)
    except RejectedInput as exc:
        if "support mailbox" in exc.message:
            raise UnknownMailbox(exc.message) from exc
        raise BadRequest(exc.message, reason="unusable_email") from exc


class MailgunConnector(EmailWebhook):
    """Mailgun routes "forward" to ``/webhooks/mailgun``."""

    name = "mailgun"
    clock: Callable[[], float] = staticmethod(time.time)

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        window = 2 * MAILGUN_MAX_AGE_SECONDS
        self.tokens: TokenLedger = (PostgresTokens(self.store, window) if self.store is not None
                                    else TokenMemory(window))

    def enabled(self) -> bool:
        return self.settings.mailgun_signing_key is not None

    def ledger(self) -> TokenLedger | None:
        return self.tokens

    def mail_routes(self) -> Sequence[Route]:
        # Mailgun posts raw MIME (body-mime) when the forward URL ends in "mime".
        return (Route("", ("POST",), FORM_TYPES, MAX_MAIL_BYTES),
                Route("/mime", ("POST",), FORM_TYPES, MAX_MAIL_BYTES))

    def verify(self, request: WebhookRequest) -> None:
        """The signature over timestamp + token, read without parsing the mail itself."""
        fields = signed_fields(request.header("content-type") or "", request.body)
        timestamp, token = text_field(fields, "timestamp"), text_field(fields, "token")
        signature = text_field(fields, "signature")
        if not (timestamp and token and signature):
            raise Unauthorized("timestamp, token and signature fields are required")
        key = self.settings.mailgun_signing_key
        assert key is not None  # enabled() keeps the route unmounted without a key
        expected = mailgun_signature(key.get_secret_value(), timestamp, token)
        if not same(expected, signature.lower()):
            raise Forbidden("signature does not match timestamp + token")
        now = self.clock()
        if not timestamp.isdigit() or abs(now - int(timestamp)) > MAILGUN_MAX_AGE_SECONDS:
            raise Forbidden(f"timestamp {timestamp} is stale", reason="stale_timestamp")

    def handle(self, request: WebhookRequest) -> Ingest:
        fields = form_fields(request.header("content-type") or "", request.body)
        raw = fields.get("body-mime")
        if raw is None:
            raw = self._assemble(fields)
        recipient = text_field(fields, "recipient")
        verdict = mailgun_verdict({name: text_field(fields, name) for name in (
            "X-Mailgun-Spf", "X-Mailgun-Dkim-Check-Result", "message-headers")})
        context = EmailContext(
            auth=verdict,
            provider="mailgun",
            workspace=self.settings.workspace,
            envelope_recipients=tuple(r.strip() for r in recipient.split(",") if r.strip()),
            envelope_sender=text_field(fields, "sender") or None,
            mailboxes=mailboxes(self.settings),
        )
        return to_ingest(_normalize(raw, context, self.settings))

    @staticmethod
    def _assemble(fields: dict[str, bytes]) -> bytes:
        try:
            headers = [tuple(h) for h in json.loads(text_field(fields, "message-headers") or "[]")]
        except (ValueError, TypeError) as exc:
            raise BadRequest("message-headers is not a JSON list of pairs") from exc
        if not headers:
            raise BadRequest("neither body-mime nor message-headers was posted")
        return assemble(
            [(str(k), str(v)) for k, v in headers],
            text_field(fields, "body-plain"),
            text_field(fields, "body-html"),
        )


class SendGridConnector(EmailWebhook):
    """SendGrid Inbound Parse posting to ``/webhooks/sendgrid/<secret>``."""

    name = "sendgrid"

    def enabled(self) -> bool:
        return self.settings.sendgrid_inbound_secret is not None

    def mail_routes(self) -> Sequence[Route]:
        return (Route("/{secret}", ("POST",), FORM_TYPES, MAX_MAIL_BYTES),)

    def verify(self, request: WebhookRequest) -> None:
        given = request.path.rstrip("/").rsplit("/", 1)[-1]
        if not given or given == self.name:
            raise Unauthorized("the secret path segment is missing")
        secret = self.settings.sendgrid_inbound_secret
        assert secret is not None
        if not same(secret.get_secret_value(), given):
            raise Forbidden("wrong secret path segment")

    def handle(self, request: WebhookRequest) -> Ingest:
        fields = form_fields(request.header("content-type") or "", request.body)
        raw = fields.get("email")
        if raw is None:
            header_text = text_field(fields, "headers")
            if not header_text:
                raise BadRequest("neither email (raw MIME) nor headers was posted")
            raw = header_text.encode() + b"\r\n\r\n" + fields.get("text", b"")
        try:
            envelope = json.loads(text_field(fields, "envelope") or "{}")
        except ValueError as exc:
            raise BadRequest("envelope is not JSON") from exc
        to = envelope.get("to") if isinstance(envelope, dict) else None
        context = EmailContext(
            auth=sendgrid_verdict({name: text_field(fields, name) for name in ("SPF", "dkim")}),
            provider="sendgrid",
            workspace=self.settings.workspace,
            envelope_recipients=tuple(str(t) for t in to) if isinstance(to, list) else (),
            envelope_sender=str(envelope.get("from") or "") or None,
            mailboxes=mailboxes(self.settings),
        )
        return to_ingest(_normalize(raw, context, self.settings))
