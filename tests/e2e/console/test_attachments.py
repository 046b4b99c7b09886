"""Attachments in the agent console, in headless Chromium against the real gateway.

History holds one conversation of ada's, written the way the sink writes it
(``write_batch``): an MMS through Twilio ("Here is a photo of the broken lamp", a PNG
and a PDF receipt), a WhatsApp photo through Twilio with only a caption, and an email
whose PDF omniroute keeps only the name, type, size and hash of. The gateway runs in
process with the account's Twilio credentials and the fake Twilio API's address; the
fake serves the media behind basic auth. A user run's console showed the MMS's text
alone, the photo as "[attachment]", and neither the photo, the caption nor the file.

Ada signs in and opens the conversation: the photos are thumbnails whose bytes came
from ``GET …/attachments/{position}`` with her token (decoded: ``naturalWidth > 0``),
the receipt downloads with its bytes, the caption is under its photo, no "[attachment]"
is left, and the email's PDF is a row with its name, type and size and the note that
its bytes were not stored (the gateway's ``not_stored``), without a download. Redrawing
the history (every 3 s) asks for nothing again. The page runs under the console's own
Content-Security-Policy. A screenshot is kept as an artifact.
"""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from e2e.console.test_console import ARTIFACTS
from harness.browser import launch_chromium
from harness.ports import free_port
from harness.providers.twilio import FakeTwilio
from integration.history.factories import added, assignment, opened
from omniroute.contract import (
    Address,
    AssignmentKind,
    Attachment,
    AttachmentKind,
    Channel,
    InboundMessage,
    Location,
    Reaction,
    SharedContact,
    utcnow,
)
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.gateway.server import running_gateway
from omniroute.history.store import write_batch
from omniroute.settings import Settings

playwright_api = pytest.importorskip("playwright.async_api")
SID, AUTH = "AC" + "7" * 32, "attachments-e2e-twilio-token"
NUMBER = "+14155559999"
CONVERSATION, CUSTOMER = "conv-lamp", "cust-lamp"
RECEIPT = b"%PDF-1.4\n% the lamp's receipt\n%%EOF\n"


def png(width: int, height: int) -> bytes:
    """A valid RGB PNG of ``width`` by ``height`` grey pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def sid(n: int) -> str:
    """Message ``n``'s Twilio SID."""
    return f"MM{n:032d}"


def message(n: int, channel: Channel, provider: str, sender: str, text: str | None,
            attachments: list[Attachment]) -> InboundMessage:
    at = utcnow() - timedelta(minutes=10 - n)
    return InboundMessage(
        event_id=f"{provider}:attachments-{n}", occurred_at=at, channel=channel,
        provider=provider, channel_account=NUMBER if provider == "twilio" else "help@shop.test",
        sender=Address(value=sender, name="Lamp Customer"),
        recipient=Address(value=NUMBER), provider_message_id=sid(n), text=text,
        attachments=attachments)


async def seed(database_url: str, twilio: FakeTwilio, photo: bytes) -> str:
    """The conversation with its three messages, assigned to ada; ada's token."""
    mms = message(1, Channel.SMS, "twilio", "+14155550100", "Here is a photo of the broken lamp",
                  [Attachment(kind=AttachmentKind.IMAGE, content_type="image/png",
                              url=twilio.add_media(sid(1), "image/png", photo)),
                   Attachment(kind=AttachmentKind.FILE, content_type="application/pdf",
                              url=twilio.add_media(sid(1), "application/pdf", RECEIPT))])
    whatsapp = message(2, Channel.WHATSAPP, "twilio", "whatsapp:+14155550100", None,
                       [Attachment(kind=AttachmentKind.IMAGE, content_type="image/png",
                                   url=twilio.add_media(sid(2), "image/png", photo),
                                   caption="The base, cracked")])
    mail = message(3, Channel.EMAIL, "smtp", "lamp@example.test", "My invoice is attached",
                   [Attachment(kind=AttachmentKind.FILE, media_id="sha256:" + "ab" * 32,
                               content_type="application/pdf", filename="invoice-7702.pdf",
                               size_bytes=12_345)])
    # what a message without text or attachments carries is said, not "[attachment]"
    place, card, heart = (message(n, Channel.WHATSAPP, "twilio", "whatsapp:+14155550100", "-", [])
                          for n in (5, 6, 7))
    place = place.model_copy(update={"text": None, "location": Location(
        latitude=37.5665, longitude=126.978, name="Shop", address="1 Main St")})
    card = card.model_copy(update={"text": None, "contacts": [SharedContact(
        name="Kim Min", phones=["+821011112222"])]})
    heart = heart.model_copy(update={"text": None, "reaction": Reaction(
        target_provider_message_id=sid(2), emoji="\u2764")})
    # a photo Twilio no longer has: the provider's reason, not a broken image
    gone = message(8, Channel.SMS, "twilio", "+14155550100", None, [Attachment(
        kind=AttachmentKind.IMAGE, content_type="image/png",
        url=f"{twilio.base_url}/2010-04-01/Accounts/{SID}/Messages/{sid(8)}/Media/MEgone")])
    start = mms.occurred_at - timedelta(seconds=5)
    events = [("conversations", opened(CONVERSATION, CUSTOMER, at=start))]
    for m in (mms, whatsapp, mail, place, card, heart, gone):
        events += [("inbound", m),
                   ("conversations", added(m, conversation=CONVERSATION, customer=CUSTOMER))]
    events.append(("assignments", assignment("ada", CONVERSATION, at=start)))
    # another customer's photo sent alone, offered to ada: the offer says "Photo"
    alone = message(4, Channel.SMS, "twilio", "+14155550104", None,
                    [Attachment(kind=AttachmentKind.IMAGE, content_type="image/png",
                                url=twilio.add_media(sid(4), "image/png", photo))])
    events += [("conversations", opened("conv-alone", "cust-alone", at=start)),
               ("inbound", alone),
               ("conversations", added(alone, conversation="conv-alone", customer="cust-alone")),
               ("assignments", assignment("ada", "conv-alone", AssignmentKind.OFFERED,
                                          at=utcnow() - timedelta(minutes=5),
                                          expires=utcnow() + timedelta(minutes=10)))]
    conn = await asyncpg.connect(database_url)
    try:
        await write_batch(conn, events)
        return await create_token(conn, "ada", Role.AGENT)
    finally:
        await conn.close()


def media_gets(twilio: FakeTwilio) -> list[str]:
    """The MediaUrls the fake was asked for (each then redirects to its storage)."""
    return [r.path for r in twilio.requests if "/Media/" in r.path]


async def sign_in(page: object, url: str, token: str) -> None:
    """Ada's sign-in, waited for with locators (the console's CSP forbids evaluated waits)."""
    await page.goto(url + "/")  # type: ignore[attr-defined]
    await page.fill("#token", token)  # type: ignore[attr-defined]
    await page.click("#signin")  # type: ignore[attr-defined]
    await page.locator("#link[data-state='live']").wait_for(  # type: ignore[attr-defined]
        timeout=30_000)


class TestAttachmentsInTheConsole:
    async def test_photos_caption_and_an_unstored_file(
            self, topics: Settings, database_url: str, tmp_path: Path) -> None:
        """Thumbnails loaded through the gateway, the caption, the file row and its note."""
        photo = png(64, 48)
        async with FakeTwilio(SID, AUTH) as twilio:
            token = await seed(database_url, twilio, photo)
            photo_paths = {urlsplit(twilio.add_media(sid(n), "image/png", photo)).path
                           for n in (1, 2)}  # the same MediaUrls again
            settings = topics.model_copy(update={
                "twilio_account_sid": SID, "twilio_auth_token": AUTH,
                "twilio_api_base_url": twilio.base_url})
            async with running_gateway(settings, database_url, port=free_port()) as gateway, \
                    playwright_api.async_playwright() as p:
                browser = await launch_chromium(p)
                try:
                    # no bypass_csp: the thumbnails must load under the console's own policy
                    page = await (await browser.new_context(
                        locale="en-US", viewport={"width": 1200, "height": 1000})).new_page()
                    await sign_in(page, gateway.url, token)
                    offer = page.locator("#offers .offer")
                    await offer.wait_for(timeout=30_000)
                    assert await offer.locator(".preview").inner_text() == "Photo"
                    await page.locator(f"[data-conversation='{CONVERSATION}']").click()
                    history = page.locator("#history")
                    await history.locator(".message.inbound").nth(2).wait_for(timeout=30_000)

                    thumbs = history.locator("img.thumb")
                    await thumbs.nth(1).wait_for(timeout=30_000)
                    assert await thumbs.count() == 2
                    for i in range(2):
                        width = await thumbs.nth(i).evaluate("img => img.complete && img.naturalWidth")
                        assert width == 64, f"thumbnail {i} did not decode ({width})"

                    mms = history.locator(".message.inbound").nth(0)
                    assert "Here is a photo of the broken lamp" in await mms.inner_text()
                    # the MMS's second attachment, a PDF Twilio keeps: downloaded with ada's token
                    receipt = mms.locator(".attachment-file")
                    assert "File · application/pdf" in await receipt.inner_text()
                    await mms.locator("figure.file[data-state=available]").wait_for(
                        timeout=30_000)  # the gateway said its bytes are there
                    async with page.expect_download() as download:
                        await receipt.locator("button.download").click()
                    saved = tmp_path / "receipt.pdf"
                    await (await download.value).save_as(saved)
                    assert saved.read_bytes() == RECEIPT
                    whatsapp = history.locator(".message.inbound").nth(1)
                    assert await whatsapp.locator("figcaption").inner_text() == "The base, cracked"
                    assert "[attachment]" not in await history.inner_text()
                    said = [await history.locator(".message.inbound").nth(n).locator(
                        ".content").inner_text() for n in (3, 4, 5)]
                    unavailable = history.locator(".message.inbound").nth(6).locator(
                        ".attachment-error.media_unavailable")
                    await unavailable.wait_for(timeout=30_000)
                    assert (await unavailable.inner_text()).startswith(
                        "could not fetch the attachment from Twilio: "), \
                        await unavailable.inner_text()
                    assert "404" in await unavailable.inner_text()
                    assert said == ["Location: Shop, 1 Main St (37.5665, 126.978) map",
                                    "Shared contact: Kim Min · +821011112222",
                                    "Reacted \u2764"], said

                    mail = history.locator(".message.inbound").nth(2)
                    row = mail.locator(".attachment-file")
                    assert "invoice-7702.pdf · application/pdf · 12 KB" in await row.inner_text()
                    note = mail.locator(".attachment-error.not_stored")
                    await note.wait_for(timeout=30_000)
                    assert "not stored" in await note.inner_text()
                    assert await mail.locator("button.download").count() == 0

                    # each photo's bytes were asked of Twilio once (by the gateway, for the
                    # console); the history is drawn again every 3 s: nothing is asked again
                    asked = media_gets(twilio)
                    photos = [path for path in asked if path in photo_paths]
                    assert sorted(Counter(photos).values()) == [1, 1], asked
                    await page.wait_for_timeout(3500)
                    assert media_gets(twilio) == asked
                    assert await thumbs.first.evaluate("img => img.naturalWidth") == 64

                    shot = ARTIFACTS / "console-attachments.png"
                    shot.parent.mkdir(parents=True, exist_ok=True)
                    await page.screenshot(path=str(shot), full_page=True)
                    print(f"console screenshot: {shot}")
                finally:
                    await browser.close()
