"""Outbound attachments fetched from a local HTTP server, sent through a local SMTP sink."""

from __future__ import annotations

import asyncio
import email

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from harness.kafka import consume, produce
from harness.ports import free_port
from harness.served import served
from omniroute.contract import (
    Address,
    Attachment,
    AttachmentKind,
    Author,
    AuthorKind,
    Channel,
    DeliveryStatus,
    OutboundMessage,
)
from omniroute.infra.reach import PublicResolver, Reach
from omniroute.settings import Settings
from omniroute_connectors.email import attachments
from omniroute_connectors.email.attachments import AttachmentUnavailable, fetch_files
from omniroute_connectors.email.sender import EmailDelivery, SmtpRelay

PDF = b"%PDF-1.4 invoice 1042\n" * 50


@pytest.fixture
async def files() -> str:
    """A file server: /invoice.pdf, /big (2 KiB), /missing (404)."""
    async def pdf(_request: web.Request) -> web.Response:
        return web.Response(body=PDF, content_type="application/pdf")

    async def big(_request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 2048)

    async def elsewhere(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    app = web.Application()
    app.router.add_get("/invoice.pdf", pdf)
    app.router.add_get("/big", big)
    app.router.add_get("/elsewhere", elsewhere)
    async with served(app) as url:
        yield url


def attachment(url: str, filename: str | None = None) -> Attachment:
    return Attachment(kind=AttachmentKind.FILE, url=url, filename=filename)


async def test_fetch_rules(files: str, topics: Settings, monkeypatch: pytest.MonkeyPatch
                           ) -> None:
    """Files come back with their type and name; 404, oversize and non-http URLs are refused;
    so is a private network address not allowed (the file server is, by
    OMNIROUTE_MEDIA_PRIVATE_ORIGINS), directly or behind a redirect, without a retry."""
    reach = Reach(topics.model_copy(update={"media_private_origins": files}))
    connector = aiohttp.TCPConnector(resolver=PublicResolver(reach))
    async with aiohttp.ClientSession(connector=connector) as session:
        (pdf,) = await fetch_files(session, reach, [attachment(f"{files}/invoice.pdf")])
        assert (pdf.filename, pdf.content_type, pdf.data) == ("invoice.pdf", "application/pdf",
                                                              PDF)
        with pytest.raises(AttachmentUnavailable, match="answered 404"):
            await fetch_files(session, reach, [attachment(f"{files}/missing")])
        with pytest.raises(AttachmentUnavailable, match="only http and https"):
            await fetch_files(session, reach, [attachment("file:///etc/passwd")])
        other = f"http://localhost:{free_port()}/secret"  # another service of this host
        for url in ("http://169.254.169.254/latest/meta-data/", other,
                    f"{files}/elsewhere?to=http://127.0.0.2:{free_port()}/secret",
                    f"{files}/elsewhere?to={other}"):
            with pytest.raises(AttachmentUnavailable, match="private network address"):
                await fetch_files(session, reach, [attachment(url)])
        monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", 1024)
        with pytest.raises(AttachmentUnavailable, match="limit of 1024"):
            await fetch_files(session, reach, [attachment(f"{files}/big")])


class Sink:
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await self.received.put(envelope.original_content or envelope.content)
        return "250 OK"


async def test_reply_carries_the_file_and_a_missing_file_fails_the_message(
    topics: Settings, files: str,
) -> None:
    """The fetched file is attached; a reply whose file is gone is reported failed, unsent."""
    sink = Sink()
    relay_port = free_port()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(sink), host="127.0.0.1", port=relay_port)
    settings = topics.model_copy(update={"smtp_relay_port": relay_port,
                                         "media_private_origins": files})
    delivery = EmailDelivery(settings, SmtpRelay(settings, backoff=0.05))
    worker = asyncio.create_task(delivery.run())

    def reply(event_id: str, url: str) -> tuple[bytes, bytes]:
        message = OutboundMessage(
            event_id=event_id, conversation_id="conv-a", channel=Channel.EMAIL,
            channel_account="support@acme.test", recipient=Address(value="jane@example.com"),
            author=Author(kind=AuthorKind.AGENT, id="a1"), text="Your invoice.",
            attachments=[attachment(url, "Invoice 1042.pdf")])
        return b"conv-a", message.to_json_bytes()

    await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                  [reply("with-file", f"{files}/invoice.pdf"), reply("gone", f"{files}/missing")])
    try:
        raw = await asyncio.wait_for(sink.received.get(), 60)
        records = await consume(settings.kafka_bootstrap,
                                settings.topic("omniroute.delivery.v1"), 2)
    finally:
        delivery.stop()
        await worker
        server.close()
    parts = [p for p in email.message_from_bytes(raw).walk() if p.get_filename()]
    assert [(p.get_filename(), p.get_payload(decode=True)) for p in parts] == [
        ("Invoice 1042.pdf", PDF)]
    statuses = {s.outbound_event_id: s for s in
                (DeliveryStatus.from_json_bytes(r.value) for r in records)}
    assert statuses["with-file"].state.value == "sent"
    gone = statuses["gone"]
    assert (gone.state.value, gone.error_code) == ("failed", "attachment_unavailable")
    assert "404" in (gone.error_message or "") and sink.received.empty()
