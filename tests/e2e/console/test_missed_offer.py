"""An agent who let an offer time out is told so, in headless Chromium against the real
gateway.

User run 42: ada was typing a reply while an offer rang; it timed out, the router set her
away (``away_on_offer_timeout``, the default), and she sat away for 15 minutes with twelve
customers waiting: only the presence menu, re-read every 10 s, said "Away". The router's
``rescinded`` event ("offer timed out") now brings a notice, with the presence the router
holds once history has it; choosing a presence clears it. History holds ada available and
an offer to her, written as the sink writes them; the router's event comes on
``omniroute.assignments.v1`` and into history, as the router and the sink write it.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from e2e.console.test_attachments import sign_in
from harness.browser import launch_chromium
from harness.kafka import produce
from harness.ports import free_port
from integration.history.factories import added, assignment, inbound, opened
from omniroute.contract import (
    AgentEvent,
    AgentEventKind,
    AssignmentEvent,
    AssignmentKind,
    Presence,
    utcnow,
)
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.gateway.server import running_gateway
from omniroute.history.store import write_batch
from omniroute.routing.config import DEFAULT_POOL
from omniroute.routing.timers import OFFER_TIMED_OUT
from omniroute.settings import Settings

playwright_api = pytest.importorskip("playwright.async_api")


async def seed(database_url: str) -> str:
    """ada available, a conversation offered to her; her token."""
    start = utcnow() - timedelta(minutes=10)
    message = inbound(1, text="Where is my parcel?")
    events: list[tuple[str, object]] = [
        ("agent-events", AgentEvent(event_id="missed-presence", occurred_at=start,
                                    agent_id="ada", kind=AgentEventKind.PRESENCE,
                                    presence=Presence.AVAILABLE)),
        ("conversations", opened("conv-missed", "cus_missed", at=start)),
        ("inbound", message),
        ("conversations", added(message, conversation="conv-missed", customer="cus_missed")),
        ("assignments", assignment("ada", "conv-missed", AssignmentKind.OFFERED,
                                   at=utcnow() - timedelta(minutes=6),
                                   expires=utcnow() + timedelta(minutes=10))),
    ]
    conn = await asyncpg.connect(database_url)
    try:
        await write_batch(conn, events)  # type: ignore[arg-type]
        return await create_token(conn, "ada", Role.AGENT)
    finally:
        await conn.close()


async def test_an_agent_who_missed_an_offer_is_told_she_is_away(
        topics: Settings, database_url: str) -> None:
    token = await seed(database_url)
    timed_out = AssignmentEvent(
        event_id="missed-rescinded", agent_id="ada", kind=AssignmentKind.RESCINDED,
        conversation_id="conv-missed", offer_id="offer-conv-missed-ada", pool=DEFAULT_POOL,
        reason=OFFER_TIMED_OUT)
    async with running_gateway(topics, database_url, port=free_port()) as gateway, \
            playwright_api.async_playwright() as p:
        browser = await launch_chromium(p)
        try:
            page = await (await browser.new_context(locale="en-US")).new_page()
            await sign_in(page, gateway.url, token)
            await page.locator("#offers .offer").wait_for(timeout=30_000)
            assert await page.input_value("#presence") == "available"
            notice = page.locator("#notice")
            assert await notice.is_hidden()

            conn = await asyncpg.connect(database_url)  # the sink's part
            try:
                await write_batch(conn, [("assignments", timed_out)])
            finally:
                await conn.close()
            await produce(topics.kafka_bootstrap, topics.topic("omniroute.assignments.v1"),
                          [(b"ada", timed_out.to_json_bytes())])  # the router's part
            said = ("You did not answer an offer in time. "
                    "You are Away now: choose Available to get new conversations.")
            await page.locator(f"#notice:has-text('{said}')").wait_for(timeout=15_000)
            assert await page.input_value("#presence") == "away"
            assert await page.locator("#offers .offer").count() == 0

            await page.select_option("#presence", "available")
            await notice.wait_for(state="hidden", timeout=5_000)
        finally:
            await browser.close()
