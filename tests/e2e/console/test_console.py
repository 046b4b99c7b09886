"""The agent console in headless Chromium against the real Kafka, PostgreSQL, sink and gateway.

A customer's SMS enters through Kafka (with the conversation and the router's
offer produced by this test standing in for the identity/conversation and
router processors), the offer appears in the console, the agent accepts (the
test, as router, answers the accept with ``assigned``), reads the history,
replies with a canned response: the reply is on ``omniroute.outbound.v1`` and
PostgreSQL holds both messages in one conversation. A screenshot is kept.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from harness.kafka import consume, produce
from harness.ports import free_port
from integration.history.factories import added, inbound, opened
from omniroute.contract import (
    AgentEvent,
    AgentEventKind,
    AssignmentEvent,
    AssignmentKind,
    Channel,
    OutboundMessage,
    utcnow,
)
from omniroute.gateway.admin import create_token, set_canned_response
from omniroute.gateway.auth import Role
from omniroute.gateway.server import running_gateway
from omniroute.history.sink import HistorySink
from omniroute.settings import Settings

playwright_api = pytest.importorskip("playwright.async_api")
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("OMNIROUTE_TEST_ARTIFACTS", "/tmp/omniroute-test-artifacts"))


@pytest.fixture
async def stack(topics: Settings, database_url: str) -> AsyncIterator[tuple[str, str]]:
    """Sink and gateway running; yields (console URL, agent token)."""
    conn = await asyncpg.connect(database_url)
    try:
        token = await create_token(conn, "ada", Role.AGENT)
        await set_canned_response(conn, "default", "ships", "Your parcel ships today.")
    finally:
        await conn.close()
    stop = asyncio.Event()
    sink = asyncio.create_task(HistorySink(topics, database_url).run(stop))
    try:
        async with running_gateway(topics, database_url, port=free_port()) as gateway:
            yield gateway.url, token
    finally:
        stop.set()
        await sink


async def publish(settings: Settings, topic: str, key: str, *events: object) -> None:
    await produce(settings.kafka_bootstrap, settings.topic(topic),
                  [(key.encode(), e.to_json_bytes()) for e in events])  # type: ignore[attr-defined]


async def wait_for_accept(settings: Settings, offer_id: str) -> AgentEvent:
    def is_accept(record: object) -> bool:
        event = AgentEvent.from_json_bytes(record.value)  # type: ignore[attr-defined]
        return event.kind is AgentEventKind.ACCEPT and event.offer_id == offer_id

    found = await consume(settings.kafka_bootstrap, settings.topic("omniroute.agent-events.v1"),
                          1, timeout=60, where=is_accept)
    assert found, "the console never published the accept"
    return AgentEvent.from_json_bytes(found[0].value)


class TestAgentConsole:
    async def test_offer_accept_history_reply_resolve(
            self, stack: tuple[str, str], topics: Settings, database_url: str) -> None:
        """The whole agent journey in a real browser, ending with both messages in PostgreSQL."""
        url, token = stack
        now = utcnow()
        message = inbound(1, text="Where is my parcel?", at=now - timedelta(minutes=1))
        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--no-sandbox", "--headless", "--disable-gpu",
                      "--disable-background-networking"])
            page = await browser.new_page(viewport={"width": 1200, "height": 800})
            try:
                await page.goto(url)
                await page.fill("#token", token)
                await page.click("#signin")
                await page.wait_for_selector("#who:has-text('ada')")
                await page.wait_for_function("document.getElementById('link').textContent === 'live'")
                await page.select_option("#presence", "available")

                # The customer writes; conversations and router (stand-ins) react.
                await publish(topics, "omniroute.inbound.v1", message.kafka_key, message)
                await publish(topics, "omniroute.conversations.v1", "c-e2e",
                              opened("c-e2e", "cust-e2e", at=message.occurred_at),
                              added(message, conversation="c-e2e", customer="cust-e2e"))
                offer = AssignmentEvent(
                    event_id="offer-e2e", agent_id="ada", kind=AssignmentKind.OFFERED,
                    conversation_id="c-e2e", offer_id="o-e2e", channel=Channel.SMS,
                    expires_at=utcnow() + timedelta(minutes=5))
                await publish(topics, "omniroute.assignments.v1", "ada", offer)

                await page.click("[data-offer='o-e2e'] .accept", timeout=30_000)
                accept = await wait_for_accept(topics, "o-e2e")
                assert accept.conversation_id == "c-e2e"
                await publish(topics, "omniroute.assignments.v1", "ada", AssignmentEvent(
                    event_id="assigned-e2e", agent_id="ada", kind=AssignmentKind.ASSIGNED,
                    conversation_id="c-e2e", offer_id="o-e2e", channel=Channel.SMS))

                inbound_row = page.locator("#history .message.inbound")
                await inbound_row.wait_for(timeout=30_000)
                assert "Where is my parcel?" in await inbound_row.inner_text()
                assert await inbound_row.locator(".channel").text_content() == "sms"

                await page.select_option("#canned", label="/ships")
                assert await page.input_value("#reply") == "Your parcel ships today."
                await page.click("#send")
                await page.locator("#history .message.outbound").wait_for(timeout=30_000)
                shot = ARTIFACTS / "console.png"
                shot.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(shot), full_page=True)
                print(f"console screenshot: {shot}")
                await page.click("#resolve")
                await page.wait_for_timeout(300)  # let the click's request leave the page
            finally:
                await browser.close()

        sent = await consume(topics.kafka_bootstrap, topics.topic("omniroute.outbound.v1"), 1)
        reply = OutboundMessage.from_json_bytes(sent[0].value)
        assert (reply.text, reply.recipient.value, reply.channel, reply.conversation_id) == (
            "Your parcel ships today.", "+14155550100", Channel.SMS, "c-e2e")
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("SELECT direction, text FROM messages "
                                    "WHERE conversation_id = 'c-e2e' ORDER BY created_at")
        finally:
            await conn.close()
        assert [(r["direction"], r["text"]) for r in rows] == [
            ("inbound", "Where is my parcel?"), ("outbound", "Your parcel ships today.")]
        resolved = await consume(
            topics.kafka_bootstrap, topics.topic("omniroute.agent-events.v1"), 1, timeout=30,
            where=lambda r: AgentEvent.from_json_bytes(r.value).kind is AgentEventKind.RESOLVE)
        assert resolved and AgentEvent.from_json_bytes(resolved[0].value).conversation_id == "c-e2e"
