"""Sender authentication of inbound mail: our own SPF/DKIM/DMARC check and providers' verdicts."""

from __future__ import annotations

from typing import Any

import dkim
import pytest
from aiosmtpd.smtp import Envelope, Session

from omniroute.contract import InboundMessage
from omniroute.settings import Settings
from omniroute_connectors.email.authentication import (
    MailAuth,
    authenticate,
    mailgun_verdict,
    sendgrid_verdict,
)
from omniroute_connectors.email.normalize import EmailContext, Mailboxes, normalize_email
from omniroute_connectors.email.smtp_server import MailboxHandler

PRIVATE_KEY = b"""-----BEGIN RSA PRIVATE KEY-----
MIICXAIBAAKBgQDgSuJSWUve04nFouWmxB3IBW9ZWltFhMD8fUWF4nBQY1haSaxT
A6PR11RPRSpuQoZhwoDbRxJQbmoSt//RRD+KBGsqr69AwCEAIGNc+pckt7iVPtVY
FWEwKDbQDg5htbEcBno1o6Q3Tn33iGSPP8PYFm6kCV6r0aLoBzMzAqbnUwIDAQAB
AoGAZ5XN/lAlPQyfNTptK16pjmYMLc0QGAQeiL1mLVYNnuKyvEgIIPKuZsw2sMF1
viRVIbMNhbfGGoVT0b9Okxwc50hbQqZlO3sXpGRaI7oiptNx+DLq+FnMRH5587qW
gS5p5gdcugswaU4b5z9qTixZti3ebzim4bdMXaNSxnkkqgkCQQD7Veza+qGCT18K
jxaverdbzxp0VniT83K+cTYSQGSbBitHZD1CZ6Pv+pArd4AVpcsiiXW8FYXaqc4X
ne7xd5hlAkEA5HR6rC8arPTpgvwAXCAdf0s3K3c9228f4k/05zURqG67czPDuH6a
gN4/rNMYsx0OeGKwb9PbeR3RenPQ5PtZVwJBAIyZdtTRXER/jlVj0nb8GVLcupnW
PcHWcJwkzPDM4PrwKonXg4WAYO9ApiIKybZSdx6s8xXynFzEnSwNB7xBARkCQB5W
dX/uFW3IbEYPrwCM5z3jQCVOhXFhdWt5UL1vZ7PlWJE425HhhiT83pnVwp7uieBk
wqdnC+sukYXgYWo3EqsCQD2i2czuGxhYLXLGKXG7JxN5RXzhdu/kzq8fy48xZQ0j
wdRQBqEIJW3sffO1jjo+nUhWIxvdqwcmnuvpUIhQGuY=
-----END RSA PRIVATE KEY-----
"""
PUBLIC_KEY = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDgSuJSWUve04nFouWmxB3IBW9ZWltFhMD8fUWF4nBQY1haSaxTA6PR11RPRSpuQoZhwoDbRxJQbmoSt//RRD+KBGsqr69AwCEAIGNc+pckt7iVPtVYFWEwKDbQDg5htbEcBno1o6Q3Tn33iGSPP8PYFm6kCV6r0aLoBzMzAqbnUwIDAQAB"
MAIL = (b"From: Jo <jo@shop.test>\r\nTo: support@acme.test\r\nSubject: Help\r\n"
        b"Message-ID: <a1@shop.test>\r\nDate: Mon, 1 Dec 2026 10:00:00 +0000\r\n\r\n"
        b"My order is late.\r\n")


def signed(mail: bytes, domain: str = "shop.test") -> bytes:
    header = dkim.sign(mail, b"s1", domain.encode(), PRIVATE_KEY,
                       include_headers=[b"from", b"to", b"subject", b"message-id"])
    return header + mail


def dns(name: Any, timeout: int = 5) -> str | None:
    """A fake DNS: the DKIM key of shop.test and its DMARC policy."""
    name = name.decode() if isinstance(name, bytes) else name
    records = {"s1._domainkey.shop.test.": f"v=DKIM1; k=rsa; p={PUBLIC_KEY}",
               "_dmarc.shop.test.": "v=DMARC1; p=reject"}
    found = records.get(name if name.endswith(".") else name + ".")
    return found


class TestOwnCheck:
    def test_dkim_aligned_with_from_passes_dmarc(self) -> None:
        auth = authenticate(signed(MAIL), None, None, None, dnsfunc=dns, spf=False)
        assert (auth.dkim, auth.dmarc, auth.authenticated) == ("pass", "pass", True)

    def test_forged_from_fails(self) -> None:
        forged = signed(MAIL).replace(b"Subject: Help", b"Subject: Refund me")
        auth = authenticate(forged, None, None, None, dnsfunc=dns, spf=False)
        assert auth.dkim == "fail" and not auth.authenticated

    def test_unsigned_mail_of_a_dmarc_domain_fails(self) -> None:
        auth = authenticate(MAIL, None, None, None, dnsfunc=dns, spf=False)
        assert (auth.dkim, auth.dmarc, auth.authenticated) == ("none", "fail", False)

    def test_verdict_is_recorded_on_the_message(self) -> None:
        context = EmailContext(mailboxes=Mailboxes.of("support@acme.test"),
                               auth=MailAuth(spf="pass", dkim="pass", dmarc="pass"))
        message = normalize_email(signed(MAIL), context)
        assert isinstance(message, InboundMessage)
        assert message.metadata["email_auth"] == "pass"
        unchecked = normalize_email(MAIL, EmailContext(mailboxes=context.mailboxes))
        assert isinstance(unchecked, InboundMessage)
        assert (unchecked.metadata["email_auth"], unchecked.metadata["email_auth_by"]) == (
            "fail", "none")


class TestProviderVerdicts:
    @pytest.mark.parametrize(("spf", "dkim_result", "passed"), [
        ("Pass", "Pass", True), ("SoftFail", "Pass", False), ("Pass", "Fail", False),
        ("", "", False)])
    def test_mailgun(self, spf: str, dkim_result: str, passed: bool) -> None:
        auth = mailgun_verdict({"X-Mailgun-Spf": spf, "X-Mailgun-Dkim-Check-Result": dkim_result})
        assert auth.authenticated is passed and auth.by == "mailgun"

    def test_mailgun_headers_list(self) -> None:
        auth = mailgun_verdict({"message-headers": '[["X-Mailgun-Spf", "Pass"], '
                                                   '["X-Mailgun-Dkim-Check-Result", "Pass"]]'})
        assert auth.authenticated

    @pytest.mark.parametrize(("dkim_field", "passed"), [
        ("{@shop.test : pass}", True), ("{@shop.test : pass, @evil.test : fail}", False),
        ("none", False)])
    def test_sendgrid(self, dkim_field: str, passed: bool) -> None:
        assert sendgrid_verdict({"SPF": "pass", "dkim": dkim_field}).authenticated is passed


class TestSmtpWithoutMailbox:
    async def test_production_refuses_every_recipient(self) -> None:
        handler = MailboxHandler(Settings(env="production", identity_key="k7Qw9-real-identity-key"), publisher=None)  # type: ignore[arg-type]
        answer = await handler.handle_RCPT(None, Session(None), Envelope(),  # type: ignore[arg-type]
                                           "anyone@anywhere.test", [])
        assert answer.startswith("550 5.1.1")
        development = MailboxHandler(Settings(), publisher=None)  # type: ignore[arg-type]
        assert (await development.handle_RCPT(None, Session(None), Envelope(),  # type: ignore[arg-type]
                                               "anyone@anywhere.test", [])).startswith("250")
