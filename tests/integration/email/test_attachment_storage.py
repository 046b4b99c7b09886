"""An emailed file reaches the agent: its bytes are stored in PostgreSQL before the mail is
acknowledged (SMTP 250, webhook 200), and the gateway serves them from there.

Real pieces: smtplib → the SMTP server → the shared broker, the history sink's writer and
the gateway over the shared PostgreSQL; Mailgun's raw-MIME route on the ingress."""

from __future__ import annotations

import asyncio
import smtplib
import time
import uuid
from email.message import EmailMessage

import aiohttp
import asyncpg
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from harness.kafka import consume, consume_all
from harness.ports import free_port
from integration.email.test_smtp_roundtrip import KafkaPublisher
from integration.history.factories import added, assignment, opened
from omniroute.contract import InboundMessage
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.gateway.server import running_gateway
from omniroute.history.store import write_batch
from omniroute.ingress.server import IngressServer
from omniroute.settings import Settings
from omniroute_connectors.email.smtp_server import SmtpService
from omniroute_connectors.email.webhooks import MailgunConnector, mailgun_signature

MAILBOX = "support@acme.test"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + bytes(range(256)) * 8 + b"%%EOF\n"
POSTER = b"\x89PNG\r\n\x1a\n" + bytes(8192)
"""Over this test's OMNIROUTE_EMAIL_ATTACHMENT_MAX_BYTES (4096): not stored."""
NAME = "Facture n°1042.pdf"
KEY = "key-integration-mailgun-attachments"


def invoice_mail(message_id: str = "<invoice-1042@example.com>") -> EmailMessage:
    """A customer's mail with a PDF (stored) and a large PNG (over the cap)."""
    mail = EmailMessage()
    mail["From"] = "Jane Doe <jane@example.com>"
    mail["To"] = MAILBOX
    mail["Subject"] = "Invoice 1042 is wrong"
    mail["Message-ID"] = message_id
    mail.set_content("The attached invoice charges me twice.")
    mail.add_attachment(PDF, maintype="application", subtype="pdf", filename=NAME)
    mail.add_attachment(POSTER, maintype="image", subtype="png", filename="poster.png")
    return mail


async def send(port: int, mail: EmailMessage) -> tuple[int, str]:
    """The server's answer to DATA (250 or the refusal's code)."""
    def deliver() -> tuple[int, str]:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            try:
                client.send_message(mail, to_addrs=[MAILBOX])
            except smtplib.SMTPDataError as exc:
                return exc.smtp_code, exc.smtp_error.decode()
            return 250, "OK"
    return await asyncio.to_thread(deliver)


async def blobs(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(
            "SELECT sha256, content_type, size_bytes, bytes, stored_at FROM attachment_blobs"))
    finally:
        await conn.close()


def served(outcome: str) -> float:
    return REGISTRY.get_sample_value("omniroute_gateway_attachments_total",
                                     {"provider": "email", "outcome": outcome}) or 0.0


async def show_to_ada(settings: Settings, database_url: str, message: InboundMessage
                      ) -> tuple[str, str]:
    """The message written as the history sink writes it, in ada's conversation; her token."""
    conn = await asyncpg.connect(database_url)
    try:
        await write_batch(conn, [("conversations", opened("c-mail", "cust-jane")),
                                 ("assignments", assignment("ada", "c-mail"))])
        await write_batch(conn, [("inbound", message), ("conversations", added(
            message, conversation="c-mail", customer="cust-jane"))])
        return "c-mail", await create_token(conn, "ada", Role.AGENT)
    finally:
        await conn.close()


async def test_a_mailed_pdf_is_served_to_the_agent_byte_for_byte(
    topics: Settings, database_url: str,
) -> None:
    """The PDF's exact bytes, type and name come back from the gateway; the file over the cap
    is 404 not_stored; the same mail sent again is accepted and stores nothing twice."""
    settings = topics.model_copy(update={
        "email_mailboxes": MAILBOX, "database_url": database_url,
        "email_attachment_max_bytes": 4096})
    publisher = KafkaPublisher(settings)
    service = SmtpService(settings, publisher, port=free_port())
    await service.start()
    try:
        assert (await send(service.port, invoice_mail()))[0] == 250
        (first,) = await blobs(database_url)
        assert (await send(service.port, invoice_mail()))[0] == 250
        assert await blobs(database_url) == [first]
    finally:
        await service.stop()
        await publisher.close()
    assert (first["content_type"], first["size_bytes"], first["bytes"]) == (
        "application/pdf", len(PDF), PDF)
    records = await consume(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"), 2)
    message = InboundMessage.from_json_bytes(records[0].value)
    assert message.attachments[0].media_id == f"sha256:{first['sha256']}"
    conversation, token = await show_to_ada(settings, database_url, message)
    before = served("served")
    async with running_gateway(settings, database_url, port=free_port()) as gateway, \
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        url = f"{gateway.url}/api/v1/conversations/{conversation}/messages/{message.event_id}"
        async with http.get(f"{url}/attachments/0") as response:
            assert (response.status, await response.read()) == (200, PDF)
            assert response.headers["Content-Type"] == "application/pdf"
            assert response.headers["Content-Disposition"] == (
                "attachment; filename=\"Facture n_1042.pdf\"; "
                "filename*=UTF-8''Facture%20n%C2%B01042.pdf")
            assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Cache-Control"] == "private, max-age=3600"
        async with http.get(f"{url}/attachments/1") as response:
            error = (await response.json())["error"]
            assert (response.status, error["code"]) == (404, "not_stored")
            assert "OMNIROUTE_EMAIL_ATTACHMENT_MAX_BYTES" in error["message"]
    assert served("served") - before == 1


async def test_postgresql_down_answers_451_and_publishes_nothing(topics: Settings) -> None:
    """With the database configured but unreachable, a mail with attachments is refused
    451 4.3.0 (the sender retries) and nothing reaches Kafka."""
    settings = topics.model_copy(update={
        "email_mailboxes": MAILBOX,
        "database_url": f"postgresql://omniroute@127.0.0.1:{free_port()}/omniroute"})
    publisher = KafkaPublisher(settings)
    service = SmtpService(settings, publisher, port=free_port())
    await service.start()
    try:
        code, text = await send(service.port, invoice_mail())
    finally:
        await service.stop()
        await publisher.close()
    assert (code, text.split()[0]) == (451, "4.3.0")
    assert await consume_all(settings.kafka_bootstrap,
                             settings.topic("omniroute.inbound.v1")) == []


def mailgun_form(mail: EmailMessage) -> tuple[str, bytes]:
    """A signed Mailgun "forward" with the raw MIME (``body-mime``)."""
    timestamp, token = str(int(time.time())), uuid.uuid4().hex * 2
    fields = {"timestamp": timestamp, "token": token,
              "signature": mailgun_signature(KEY, timestamp, token),
              "recipient": MAILBOX, "sender": "jane@example.com"}
    boundary = uuid.uuid4().hex
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                    f"{v}\r\n".encode() for k, v in fields.items())
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="body-mime"\r\n\r\n'
             .encode() + mail.as_bytes() + f"\r\n--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", body


@pytest.mark.parametrize("database", ["up", "down"])
async def test_a_mailgun_mail_is_acknowledged_only_with_its_bytes_stored(
    topics: Settings, database_url: str, database: str,
) -> None:
    """Mailgun's raw MIME: 200 once the PDF is stored and published; with PostgreSQL down,
    503 database_unavailable (Mailgun retries) and nothing published."""
    url = database_url if database == "up" else \
        f"postgresql://omniroute@127.0.0.1:{free_port()}/omniroute"
    settings = topics.model_copy(update={
        "database_url": url, "mailgun_signing_key": SecretStr(KEY),
        "email_mailboxes": MAILBOX, "email_attachment_max_bytes": 4096})
    server = IngressServer(settings, connectors=[MailgunConnector(settings)], port=free_port())
    await server.start()
    ctype, body = mailgun_form(invoice_mail("<mg-invoice@example.com>"))
    try:
        async with aiohttp.ClientSession(headers={"Content-Type": ctype}) as http, http.post(
                f"http://127.0.0.1:{server.port}/webhooks/mailgun/mime", data=body) as response:
            answer = response.status, await response.text()
    finally:
        await server.stop()
    published = await consume_all(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"))
    if database == "up":
        assert answer[0] == 200 and len(published) == 1
        assert [(b["size_bytes"], b["bytes"]) for b in await blobs(database_url)] == [
            (len(PDF), PDF)]
    else:
        assert answer[0] == 503 and "database_unavailable" in answer[1]
        assert published == []
