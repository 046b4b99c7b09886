"""The widget in headless Chromium against the real ingress, Kafka and PostgreSQL."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession, ClientWebSocketResponse, web
from prometheus_client import REGISTRY

from harness.browser import launch_chromium
from harness.kafka import consume, produce, publish_on_duty
from harness.ports import free_port
from harness.served import served
from omniroute.bot.machine import BOT
from omniroute.contract import (
    Author,
    AuthorKind,
    Channel,
    Choice,
    InboundMessage,
    OutboundMessage,
)
from omniroute.ingress.server import IngressServer
from omniroute.settings import Settings
from omniroute_connectors.webchat import WebChatConnector

playwright_api = pytest.importorskip("playwright.async_api")


def host_page(port: int) -> str:
    return (
        "<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>"
        f'<script src="http://127.0.0.1:{port}/webchat/widget.js" data-site="shop.test" '
        'data-open="true"></script></body></html>'
    )


@pytest.fixture
async def ingress(topics: Settings, database_url: str):
    settings = topics.model_copy(update={"database_url": database_url})
    # a router's figures: one agent on duty in support (the widget offers chat, not the form)
    await publish_on_duty(settings.kafka_bootstrap, settings.topic_namespace, "support", 1)
    server = IngressServer(settings, connectors=[WebChatConnector(settings)], port=free_port())
    await server.start()
    yield settings, server.port
    await server.stop()


@pytest.fixture
async def shop(ingress: tuple[Settings, int]) -> AsyncIterator[str]:
    """A customer's web page (another origin) embedding the widget with one script tag."""
    app = web.Application()

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=host_page(ingress[1]), content_type="text/html")

    app.router.add_get("/", page)
    async with served(app) as base:
        yield f"{base}/"


async def visitor_writes(page: object, shop: str, text: str) -> None:
    """Open the shop's page and send ``text`` from its chat widget."""
    await page.goto(shop)  # type: ignore[attr-defined]
    await page.wait_for_selector(  # type: ignore[attr-defined]
        "#omniroute-chat form.or-chat", state="visible")
    await page.fill("#omniroute-chat textarea[name=text]", text)  # type: ignore[attr-defined]
    await page.click(  # type: ignore[attr-defined]
        "#omniroute-chat form.or-chat button[type=submit]")


async def test_the_surveys_buttons_are_tapped_in_the_widget(
    ingress: tuple[Settings, int],
    shop: str,
) -> None:
    """User run 38: the survey reached the widget as text only, though its reply frame
    carried the five rating buttons (the widget drew no ``choices``). Now they show under
    the survey, a tap sends the title with the payload (a ``button`` reply, read by the
    survey as the score), and the buttons go; a reload of a page whose last message offers
    them shows them again."""
    settings, _ = ingress
    async with playwright_api.async_playwright() as p:
        browser = await launch_chromium(p)
        try:
            page = await browser.new_page()
            await visitor_writes(page, shop, "Thanks, all sorted")
            (first,) = await consume(settings.kafka_bootstrap,
                                     settings.topic("omniroute.inbound.v1"), 1)
            visitor = InboundMessage.from_json_bytes(first.value).sender
            survey = OutboundMessage(
                event_id="survey-1", conversation_id="conv-s", channel=Channel.WEBCHAT,
                channel_account="shop.test", recipient=visitor, automation="survey",
                author=Author(kind=AuthorKind.BOT), text="How would you rate our support?",
                choices=[Choice(payload=f"csat:{n}", title=title) for n, title in
                         enumerate(("1 Bad", "2 Poor", "3 OK", "4 Good", "5 Great"), 1)])
            await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                          [(b"conv-s", survey.to_json_bytes())])
            buttons = page.locator("#omniroute-chat .or-choices button")
            await buttons.nth(4).wait_for()
            assert await buttons.all_inner_texts() == ["1 Bad", "2 Poor", "3 OK", "4 Good",
                                                       "5 Great"]
            await page.reload()  # the welcome frame's history: still the latest message
            await buttons.nth(4).wait_for()
            if not await page.locator("#omniroute-chat form.or-chat").is_visible():
                await page.click("#omniroute-chat .or-toggle")
            await buttons.nth(4).click()
            records = await consume(settings.kafka_bootstrap,
                                    settings.topic("omniroute.inbound.v1"), 2)
            tapped = InboundMessage.from_json_bytes(records[1].value)
            assert tapped.text == "5 Great" and tapped.interactive is not None
            assert (tapped.interactive.kind, tapped.interactive.payload) == ("button", "csat:5")
            await buttons.first.wait_for(state="detached")
            texts = await page.locator("#omniroute-chat .or-msg").all_inner_texts()
            assert texts[-2:] == ["How would you rate our support?", "5 Great"]
        finally:
            await browser.close()


async def test_visitor_chats_sees_reply_and_history_after_reload(
    ingress: tuple[Settings, int],
    shop: str,
) -> None:
    """Send from the widget, receive the agent's reply live, reload and see both again."""
    settings, _ = ingress
    async with playwright_api.async_playwright() as p:
        browser = await launch_chromium(p)
        try:
            page = await browser.new_page()
            await visitor_writes(page, shop, "Where is my parcel?")

            records = await consume(settings.kafka_bootstrap,
                                    settings.topic("omniroute.inbound.v1"), 1)
            assert len(records) == 1
            inbound = InboundMessage.from_json_bytes(records[0].value)
            assert inbound.channel is Channel.WEBCHAT and inbound.text == "Where is my parcel?"
            await page.wait_for_selector(".or-visitor:not(.or-pending)")

            reply = OutboundMessage(
                event_id="reply-1", conversation_id="conv-1", channel=Channel.WEBCHAT,
                channel_account="shop.test", recipient=inbound.sender,
                author=Author(kind=AuthorKind.AGENT, id="agent-1", name="Sam"),
                text="It arrives tomorrow.",
            )
            await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                          [(b"conv-1", reply.to_json_bytes())])
            await page.wait_for_selector(".or-agent:has-text('It arrives tomorrow.')")

            await page.reload()
            await page.wait_for_selector(".or-agent:has-text('It arrives tomorrow.')")
            texts = await page.locator("#omniroute-chat .or-msg").all_inner_texts()
            assert texts == ["Where is my parcel?", "Sam\nIt arrives tomorrow."]
            # the agent's name above their message (the widget showed none)
            assert await page.inner_text("#omniroute-chat .or-agent .or-author") == "Sam"

            # Enter sends, Shift+Enter is a new line (a user run's visitor pressed Enter and
            # the text waited in the box)
            box = "#omniroute-chat textarea[name=text]"
            await page.fill(box, "Thanks,")
            await page.press(box, "Shift+Enter")
            await page.type(box, "see you")
            await page.press(box, "Enter")
            records = await consume(settings.kafka_bootstrap,
                                    settings.topic("omniroute.inbound.v1"), 2)
            assert InboundMessage.from_json_bytes(records[1].value).text == "Thanks,\nsee you"
            assert await page.input_value(box) == ""
        finally:
            await browser.close()


async def test_the_widget_speaks_the_visitors_language(
    ingress: tuple[Settings, int],
    shop: str,
) -> None:
    """User run 43: a Korean visitor got the answer bot's reply in Korean inside English
    buttons, placeholders and status lines. The widget's own words follow the page's
    language, else the browser's (English for any language it does not have); a Korean
    visitor's message still reaches Kafka as it was typed."""
    settings, _ = ingress
    async with playwright_api.async_playwright() as p:
        browser = await launch_chromium(p)
        try:
            korean = await (await browser.new_context(locale="ko-KR")).new_page()
            await visitor_writes(korean, shop, "환불은 언제 되나요?")
            (record,) = await consume(settings.kafka_bootstrap,
                                      settings.topic("omniroute.inbound.v1"), 1)
            assert InboundMessage.from_json_bytes(record.value).text == "환불은 언제 되나요?"
            chat = korean.locator("#omniroute-chat")
            assert await chat.locator("form.or-chat button[type=submit]").inner_text() == "보내기"
            assert await chat.locator("form.or-chat textarea").get_attribute(
                "placeholder") == "메시지를 입력하세요…"
            assert await chat.locator("input[name=q]").get_attribute(
                "placeholder") == "도움말 검색…"
            assert await chat.locator("button.or-toggle").inner_text() == "채팅"
            # the answer bot's Korean answer under its Korean name (user run 46 read "Answer
            # bot"), an agent under the name an admin gave her
            visitor = InboundMessage.from_json_bytes(record.value).sender
            for n, author in enumerate((BOT, Author(kind=AuthorKind.AGENT, id="ada", name="Ada"))):
                said = OutboundMessage(
                    event_id=f"ko-{n}", conversation_id="conv-ko", channel=Channel.WEBCHAT,
                    channel_account="shop.test", recipient=visitor, author=author,
                    text=f"답변 {n}")
                await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                              [(b"conv-ko", said.to_json_bytes())])
            await chat.locator(".or-agent", has_text="답변 1").wait_for()
            assert await chat.locator(".or-agent .or-author").all_inner_texts() == ["답변 봇", "Ada"]

            english = await (await browser.new_context(locale="fr-FR")).new_page()
            await english.goto(shop)
            await english.wait_for_selector("#omniroute-chat form.or-chat", state="visible")
            assert await english.locator(
                "#omniroute-chat form.or-chat button[type=submit]").inner_text() == "Send"
        finally:
            await browser.close()


async def test_bad_frames_get_precise_errors_and_publish_nothing(
    ingress: tuple[Settings, int],
) -> None:
    """Malformed frames and a forged identity are answered with error frames (and counted in
    omniroute_rejections_total{provider="webchat"}); nothing reaches Kafka."""
    settings, port = ingress

    def rejected(reason: str) -> float:
        return REGISTRY.get_sample_value("omniroute_rejections_total",
                                         {"provider": "webchat", "reason": reason}) or 0.0

    before = {code: rejected(code) for code in ("invalid_json", "empty_text", "duplicate_hello")}
    async def answer(ws: ClientWebSocketResponse) -> dict[str, object]:
        while True:  # presence frames may arrive at any time
            frame = await ws.receive_json()
            if frame["type"] != "presence":
                return frame  # type: ignore[no-any-return]

    async with ClientSession() as session:
        async with session.ws_connect(f"http://127.0.0.1:{port}/webchat/ws") as ws:
            await ws.send_json({"type": "hello"})
            welcome = await answer(ws)
            assert welcome["type"] == "welcome" and welcome["agents_available"] in (True, False)
            for frame, code in [
                ("{not json", "invalid_json"),
                ('{"type": "message", "text": "hi"}', "invalid_client_message_id"),
                ('{"type": "message", "client_message_id": "c1", "text": ""}', "empty_text"),
                ('{"type": "hello"}', "duplicate_hello"),
            ]:
                await ws.send_str(frame)
                error = await answer(ws)
                assert (error["type"], error["code"]) == ("error", code)
        async with session.ws_connect(f"http://127.0.0.1:{port}/webchat/ws") as ws:
            await ws.send_json({"type": "hello", "identifier": "cust-1", "identity_hash": "ab"})
            error = await answer(ws)
            assert error["code"] in ("identity_mismatch", "identity_unsupported")
    assert {code: rejected(code) - n for code, n in before.items()} == {
        "invalid_json": 1, "empty_text": 1, "duplicate_hello": 1}
    records = await consume(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"), 1,
                            timeout=2)
    assert records == []


def tiny_png() -> bytes:
    """A valid 2x2 red PNG (the widget shows a thumbnail only of an image that decodes)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def test_visitor_attaches_a_photo_and_sees_its_thumbnail(
    ingress: tuple[Settings, int],
    shop: str,
) -> None:
    """The paperclip uploads the photo, the message carrying it is published, and the
    visitor's transcript shows the thumbnail (no longer pending once acknowledged)."""
    settings, _ = ingress
    photo = tiny_png()
    async with playwright_api.async_playwright() as p:
        browser = await launch_chromium(p)
        try:
            page = await browser.new_page()
            await page.goto(shop)
            await page.wait_for_selector("#omniroute-chat form.or-chat", state="visible")
            await page.wait_for_function("localStorage.getItem('omniroute.webchat.token')")
            async with page.expect_file_chooser() as chooser:
                await page.click("#omniroute-chat button.or-attach")
            await (await chooser.value).set_files(
                {"name": "broken-mug.png", "mimeType": "image/png", "buffer": photo})
            await page.wait_for_selector(".or-visitor:not(.or-pending) img.or-thumb")
            assert await page.get_attribute(".or-visitor img.or-thumb", "alt") == "broken-mug.png"
            assert await page.evaluate(
                "document.querySelector('.or-visitor img.or-thumb').naturalWidth") == 2
            (record,) = await consume(settings.kafka_bootstrap,
                                      settings.topic("omniroute.inbound.v1"), 1)
            (attachment,) = InboundMessage.from_json_bytes(record.value).attachments
            assert (attachment.media_id, attachment.content_type, attachment.filename) == (
                "sha256:" + hashlib.sha256(photo).hexdigest(), "image/png", "broken-mug.png")
        finally:
            await browser.close()
