"""Mailgun routes and SendGrid Inbound Parse: verification and mapping on literal bytes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from omniroute.contract import DeliveryStatus, InboundMessage
from omniroute.settings import Settings
from omniroute_connectors.base import BadRequest, Forbidden, Unauthorized, WebhookRequest
from omniroute_connectors.email.replay import TokenMemory
from omniroute_connectors.email.webhooks import (
    MailgunConnector,
    SendGridConnector,
    UnknownMailbox,
    mailgun_signature,
)

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "email"
KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
NOW = 1_700_000_000
MAIL = (
    b"From: Jane Doe <jane@example.com>\r\nTo: support@acme.test\r\n"
    b"Message-ID: <abc@example.com>\r\nSubject: Help\r\n\r\nMy order is late.\r\n"
)


def multipart(fields: dict[str, bytes]) -> tuple[str, bytes]:
    """Encode form fields the way Mailgun and SendGrid post them."""
    boundary = uuid.uuid4().hex
    body = b""
    for name, value in fields.items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        body += value + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def mailgun_request(mail: bytes = MAIL, timestamp: int = NOW, token: str = "t" * 50,
                    signature: str | None = None, recipient: str = "support@acme.test"
                    ) -> WebhookRequest:
    sig = signature or mailgun_signature(KEY, str(timestamp), token)
    ctype, body = multipart({
        "timestamp": str(timestamp).encode(), "token": token.encode(), "signature": sig.encode(),
        "recipient": recipient.encode(), "sender": b"jane@example.com", "body-mime": mail,
    })
    return WebhookRequest("POST", "/webhooks/mailgun", "http://x/webhooks/mailgun",
                          {"content-type": ctype}, body=body)


@pytest.fixture
def mailgun() -> MailgunConnector:
    settings = Settings(mailgun_signing_key=SecretStr(KEY), email_mailboxes="support@acme.test")
    connector = MailgunConnector(settings)
    connector.clock = lambda: float(NOW + 10)  # type: ignore[method-assign]
    return connector


class TestMailgun:
    """Mailgun's signature, freshness and replay rules, then the shared pipeline."""

    def test_valid_request_becomes_an_inbound_message(self, mailgun: MailgunConnector) -> None:
        """A signed body-mime post yields one InboundMessage from mailgun."""
        request = mailgun_request()
        mailgun.verify(request)
        ingest = mailgun.handle(request)
        (message,) = ingest.events
        assert isinstance(message, InboundMessage)
        assert message.provider == "mailgun" and message.text == "My order is late."
        assert message.channel_account == "support@acme.test"

    def test_wrong_signature_is_forbidden(self, mailgun: MailgunConnector) -> None:
        """A signature made with another key is refused."""
        with pytest.raises(Forbidden):
            mailgun.verify(mailgun_request(signature=mailgun_signature("other", str(NOW), "t")))

    def test_missing_signature_is_unauthorized(self, mailgun: MailgunConnector) -> None:
        """Without the signature fields the request is unauthorized."""
        ctype, body = multipart({"body-mime": MAIL})
        with pytest.raises(Unauthorized):
            mailgun.verify(WebhookRequest("POST", "/", "http://x/", {"content-type": ctype},
                                          body=body))

    def test_stale_timestamp_is_refused(self, mailgun: MailgunConnector) -> None:
        """A correctly signed but old request is refused as stale."""
        with pytest.raises(Forbidden) as caught:
            mailgun.verify(mailgun_request(timestamp=NOW - 3600))
        assert caught.value.reason == "stale_timestamp"

    def test_unknown_recipient_is_406(self, mailgun: MailgunConnector) -> None:
        """Mail for another address answers 406 so Mailgun does not retry."""
        mail = MAIL.replace(b"support@acme.test", b"nobody@acme.test")
        with pytest.raises(UnknownMailbox) as caught:
            mailgun.handle(mailgun_request(mail, recipient="nobody@acme.test"))
        assert caught.value.status == 406

    def test_bounce_becomes_delivery_status(self, mailgun: MailgunConnector) -> None:
        """A bounce posted by a route becomes a failed DeliveryStatus."""
        raw = (FIXTURES / "flanker/bounce/zed.eml").read_bytes()
        (status,) = mailgun.handle(mailgun_request(raw)).events
        assert isinstance(status, DeliveryStatus) and status.state.value == "failed"

    def test_auto_reply_is_acknowledged_without_events(self, mailgun: MailgunConnector) -> None:
        """Auto-replies are answered 200 and nothing is published."""
        raw = (FIXTURES / "chatwoot/auto_reply.eml").read_bytes()
        assert mailgun.handle(mailgun_request(raw, recipient="support@acme.test")).events == ()

    def test_parsed_fields_without_raw_mime(self, mailgun: MailgunConnector) -> None:
        """Routes that post parsed fields (no body-mime) still work."""
        ctype, body = multipart({
            "recipient": b"support@acme.test", "body-plain": b"Where is it?",
            "message-headers": b'[["From", "Jane <jane@example.com>"], '
                               b'["To", "support@acme.test"], ["Message-Id", "<p@x>"]]',
        })
        (message,) = mailgun.handle(
            WebhookRequest("POST", "/", "http://x/", {"content-type": ctype}, body=body)
        ).events
        assert isinstance(message, InboundMessage) and message.text == "Where is it?"


class TestTokenMemory:
    """Replay memory is bounded in time and size."""

    async def test_tokens_are_used_once_marked_and_expire_after_the_window(self) -> None:
        """Unmarked tokens pass (a failed publish is retried); marked ones until the window ends."""
        memory = TokenMemory(window=10)
        assert not await memory.used("a", 0)
        assert not await memory.used("a", 1)  # checked but never marked: still usable
        await memory.mark("a", 1)
        assert await memory.used("a", 5)
        assert not await memory.used("a", 20)

    async def test_capacity_bounds_memory(self) -> None:
        """The oldest tokens are forgotten past capacity."""
        memory = TokenMemory(window=1000, capacity=3)
        for i in range(10):
            await memory.mark(str(i), i)
        assert len(memory) == 3 and not await memory.used("0", 10)


class TestSendGrid:
    """SendGrid Inbound Parse in raw MIME mode behind a secret path."""

    connector = SendGridConnector(Settings(sendgrid_inbound_secret=SecretStr("s3cr3t-path")))

    def request(self, path: str, fields: dict[str, bytes]) -> WebhookRequest:
        ctype, body = multipart(fields)
        return WebhookRequest("POST", path, "http://x" + path, {"content-type": ctype}, body=body)

    def test_secret_path_is_required(self) -> None:
        """Wrong or missing secret segments are refused."""
        with pytest.raises(Forbidden):
            self.connector.verify(self.request("/webhooks/sendgrid/wrong", {}))
        with pytest.raises(Unauthorized):
            self.connector.verify(self.request("/webhooks/sendgrid", {}))

    def test_raw_mime_becomes_inbound_message(self) -> None:
        """The raw email field goes through the shared pipeline."""
        request = self.request("/webhooks/sendgrid/s3cr3t-path", {
            "email": MAIL, "envelope": b'{"to":["support@acme.test"],"from":"jane@example.com"}',
        })
        self.connector.verify(request)
        (message,) = self.connector.handle(request).events
        assert isinstance(message, InboundMessage) and message.provider == "sendgrid"

    def test_missing_email_field_is_bad_request(self) -> None:
        """A post with neither raw MIME nor headers names the missing field."""
        with pytest.raises(BadRequest, match="email"):
            self.connector.handle(self.request("/webhooks/sendgrid/s3cr3t-path", {"x": b"1"}))
