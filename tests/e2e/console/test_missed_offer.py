"""An agent who let an offer time out is told so, in headless Chromium against the real
gateway.

User run 42: ada was typing a reply while an offer rang; it timed out, the router set her
away (``away_on_offer_timeout``, the default), and she sat away for 15 minutes with twelve
customers waiting: only the presence menu, re-read every 10 s, said "Away". The router's
``rescinded`` event ("offer timed out") now brings a notice, with the presence the router
holds once history has it, and a console opened afterwards says it too (``away_reason`` of
``GET /me``); choosing a presence clears it. History holds ada available and
an offer to her, written as the sink writes them; the router's event comes on
``omniroute.assignments.v1`` and into history, as the router and the sink write it.
"""

from __future__ import annotations

from datetime import timedelta

from e2e.console.on_history import available, opened_by, signed_in, written
from harness.kafka import produce
from integration.history.factories import assignment, inbound
from omniroute.contract import (
    AssignmentEvent,
    AssignmentKind,
    utcnow,
)
from omniroute.routing.config import DEFAULT_POOL
from omniroute.routing.timers import OFFER_TIMED_OUT
from omniroute.settings import Settings


async def seed(database_url: str) -> str:
    """ada available, a conversation offered to her; her token."""
    start = utcnow() - timedelta(minutes=10)
    message = inbound(1, text="Where is my parcel?")
    events: list[tuple[str, object]] = [
        available("ada", start), *opened_by("conv-missed", "cus_missed", message, start),
        ("assignments", assignment("ada", "conv-missed", AssignmentKind.OFFERED,
                                   at=utcnow() - timedelta(minutes=6),
                                   expires=utcnow() + timedelta(minutes=10))),
    ]
    return await written(database_url, events)


async def test_an_agent_who_missed_an_offer_is_told_she_is_away(
        topics: Settings, database_url: str) -> None:
    token = await seed(database_url)
    timed_out = AssignmentEvent(
        event_id="missed-rescinded", agent_id="ada", kind=AssignmentKind.RESCINDED,
        conversation_id="conv-missed", offer_id="offer-conv-missed-ada", pool=DEFAULT_POOL,
        reason=OFFER_TIMED_OUT)
    async with signed_in(topics, database_url, token) as (_, page, _browser):
        await page.locator("#offers .offer").wait_for(timeout=30_000)
        assert await page.input_value("#presence") == "available"
        notice = page.locator("#notice")
        assert await notice.is_hidden()

        await written(database_url, [("assignments", timed_out)])  # the sink's part
        await produce(topics.kafka_bootstrap, topics.topic("omniroute.assignments.v1"),
                      [(b"ada", timed_out.to_json_bytes())])  # the router's part
        said = ("You did not answer an offer in time. "
                "You are Away now: choose Available to get new conversations.")
        await page.locator(f"#notice:has-text('{said}')").wait_for(timeout=15_000)
        assert await page.input_value("#presence") == "away"
        assert await page.locator("#offers .offer").count() == 0
        # a console opened afterwards (a reload, another computer) says it too: the event
        # came and went, and until 2026-12-07 only the menu said Away (user run 45)
        await page.reload()
        await page.locator(f"#notice:has-text('{said}')").wait_for(timeout=15_000)
        assert await page.input_value("#presence") == "away"

        await page.select_option("#presence", "available")
        await notice.wait_for(state="hidden", timeout=5_000)
