"""Unauthenticated email never merges (issue 16), through the public interfaces.

Two real worker processes; a verified web chat visitor whose workspace attached
``jane@example.com``; then mail from that address arrives through the real
edges: a Mailgun webhook whose provider verdict is SPF+DKIM pass (joins
Jane's customer and conversation), and one whose SPF fails, and an SMTP mail
whose DMARC fails (the SMTP server's DNS check is replaced by a fixed
verdict: no DNS here). The unauthenticated ones land on the customer of
``unverified:mailto:jane@example.com``, apart from Jane, with the verdict in
their metadata (what an automation rule tags for the agent).
"""

from __future__ import annotations

import asyncio
import smtplib
import time
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from harness.kafka import consume
from harness.ports import free_port
from harness.served import served
from integration.email.test_smtp_roundtrip import KafkaPublisher
from omniroute.contract import Channel, InboundMessage, VerifiedIdentity
from omniroute.identity.customers import customer_id_for
from omniroute.ingress.app import build_app
from omniroute.settings import Settings
from omniroute_connectors.email.authentication import MailAuth
from omniroute_connectors.email.smtp_server import SmtpService
from omniroute_connectors.email.webhooks import MailgunConnector, mailgun_signature

MAILBOX, JANE, KEY = "support@acme.test", "jane@example.com", "mailgun-trust-key-0123456789"
WS = "default"  # the email connectors' workspace


@pytest.fixture
async def edges(pipeline: Any) -> AsyncIterator[tuple[Settings, str, int]]:
    """Ingress (Mailgun) and the SMTP server on the workers' namespace."""
    settings = pipeline.settings.model_copy(update={
        "email_mailboxes": MAILBOX, "mailgun_signing_key": SecretStr(KEY)})
    publisher = KafkaPublisher(settings)
    smtp = SmtpService(settings, publisher, port=free_port())
    smtp.handler.authenticator = lambda *_: MailAuth(spf="softfail", dkim="none", dmarc="fail")
    try:
        async with served(build_app(settings, [MailgunConnector(settings)], publisher)) as ingress:
            await smtp.start()
            try:
                yield settings, ingress, smtp.port
            finally:
                await smtp.stop()
    finally:
        await publisher.close()


async def mailgun(base: str, text: str, spf: str, dkim: str) -> int:
    """A signed Mailgun forward from Jane with the provider's verdict."""
    token, stamp = uuid.uuid4().hex * 2, str(int(time.time()))
    mime = (f"From: Jane <{JANE}>\r\nTo: {MAILBOX}\r\nSubject: order\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.com>\r\n\r\n{text}\r\n")
    form = aiohttp.FormData({"timestamp": stamp, "token": token, "recipient": MAILBOX,
                             "signature": mailgun_signature(KEY, stamp, token),
                             "X-Mailgun-Spf": spf, "X-Mailgun-Dkim-Check-Result": dkim,
                             "body-mime": mime})
    async with aiohttp.ClientSession() as http, http.post(
            base + "/webhooks/mailgun", data=form) as response:
        return response.status


async def smtp_mail(port: int, text: str) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = f"Jane <{JANE}>", MAILBOX, "order"
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@example.com>"
    mail.set_content(text)

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.send_message(mail)

    await asyncio.to_thread(send)


async def published(settings: Settings, text: str) -> InboundMessage:
    """The inbound event the edge published for the mail carrying ``text``."""
    def wanted(record: Any) -> bool:
        return text.encode() in record.value

    [record] = await consume(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"),
                             1, timeout=30, where=wanted)
    return InboundMessage.from_json_bytes(record.value)


class TestMailTrust:
    async def test_only_authenticated_mail_joins_the_verified_customer(
            self, pipeline: Any, make_inbound: Any, edges: tuple[Settings, str, int]) -> None:
        """Mailgun pass joins Jane; Mailgun SPF fail and SMTP DMARC fail stay apart."""
        settings, base, smtp_port = edges
        chat = make_inbound(WS, Channel.WEBCHAT, "visitor-jane", account="site",
                            verified_identity=VerifiedIdentity(identifier="jane-1", email=JANE))
        await pipeline.send(chat)
        for attempt in range(8):  # until the verified claim is applied
            text = f"authentic {attempt} {uuid.uuid4().hex}"
            assert await mailgun(base, text, "Pass", "Pass") == 200
            authentic = await published(settings, text)
            assert authentic.metadata["email_auth"] == "pass"
            joined = await pipeline.thread_of(WS, chat, authentic)
            if len(joined.customers) == 1 and len(joined.conversations) == 1:
                break  # linked, and the two conversations folded into one
        assert len(joined.customers) == 1 and len(joined.conversations) == 1

        forged_text, smtp_text = f"forged {uuid.uuid4().hex}", f"smtp {uuid.uuid4().hex}"
        assert await mailgun(base, forged_text, "Fail", "Pass") == 200
        await smtp_mail(smtp_port, smtp_text)
        forged = await published(settings, forged_text)
        by_smtp = await published(settings, smtp_text)
        assert forged.metadata["email_auth"] == by_smtp.metadata["email_auth"] == "fail"
        thread = await pipeline.thread_of(WS, chat, forged, by_smtp)
        weak = customer_id_for(WS, f"unverified:mailto:{JANE}")
        assert thread.message_customers[forged.event_id] == weak
        assert thread.message_customers[by_smtp.event_id] == weak
        assert thread.message_customers[chat.event_id] != weak
        assert len(thread.conversations) == 2
