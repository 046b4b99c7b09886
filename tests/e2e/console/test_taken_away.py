"""An agent whose conversation someone else took is told so, in headless Chromium against the
real gateway; one she transferred herself says nothing.

User run 45: kim had a customer's SMS open and was typing when the supervisor reassigned it
to ada from the board. The router's ``revoked`` closed it on kim's screen and took it from
her list with her draft, and nothing said why. The event now brings a notice naming the
customer and the reason, until her next action. User run 48: the draft stayed in the reply
box and showed under the next customer ada opened; each conversation now keeps its own. History holds two conversations assigned
to ada, written as the sink writes them; the router's events come on
``omniroute.assignments.v1`` as the router writes them.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from playwright.async_api import Page

from e2e.console.on_history import available, opened_by, signed_in, written
from harness.kafka import produce
from integration.history.factories import assignment, inbound
from omniroute.contract import (
    AssignmentEvent,
    AssignmentKind,
    utcnow,
)
from omniroute.routing.config import DEFAULT_POOL
from omniroute.settings import Settings


async def seed(database_url: str) -> str:
    """ada available, holding Carla's, Dan's and Eve's conversations; her token."""
    start = utcnow() - timedelta(minutes=10)
    events: list[tuple[str, object]] = [available("ada", start)]
    for n, (conversation, text) in enumerate((("conv-carla", "My order never arrived"),
                                              ("conv-dan", "I want a refund"),
                                              ("conv-eve", "Is the kettle in stock?")), 1):
        message = inbound(n, text=text, sender=f"+1415555010{n}", at=start)
        events += [*opened_by(conversation, f"cus_{conversation}", message, start),
                   ("assignments", assignment("ada", conversation, n=n,
                                              at=utcnow() - timedelta(minutes=8)))]
    return await written(database_url, events)


def revoked(conversation: str, reason: str) -> AssignmentEvent:
    return AssignmentEvent(event_id=f"taken-{conversation}", agent_id="ada",
                           kind=AssignmentKind.REVOKED, conversation_id=conversation,
                           work_id=conversation, pool=DEFAULT_POOL, reason=reason)


async def test_an_agent_is_told_when_a_conversation_is_taken_from_her(
        topics: Settings, database_url: str) -> None:
    token = await seed(database_url)
    assignments = topics.topic("omniroute.assignments.v1")
    async with signed_in(topics, database_url, token) as (_, page, _browser):
        carla = page.locator("#conversations li[data-conversation='conv-carla']")
        await carla.wait_for(timeout=30_000)
        await carla.click()
        await page.locator("#history").get_by_text("My order never arrived").wait_for()
        await page.fill("#reply", "It ships tod")
        notice = page.locator("#notice")
        assert await notice.is_hidden()
        # each conversation keeps its own draft: Eve's box is empty, and Carla's words
        # are back when ada returns to her (the box used to carry them along to Eve)
        await open_one(page, "conv-eve", "Is the kettle in stock?")
        assert await page.input_value("#reply") == ""
        await page.fill("#reply", "Yes, back in st")
        await open_one(page, "conv-carla", "My order never arrived")
        assert await page.input_value("#reply") == "It ships tod"

        # the supervisor reassigns Carla's conversation from the board
        await produce(topics.kafka_bootstrap, assignments,
                      [(b"ada", revoked("conv-carla", "reassigned by supervisor").to_json_bytes())])
        # (the factories name every sender Ada Lovelace)
        said = "Ada Lovelace is no longer yours: reassigned by supervisor."
        await page.locator("#notice").get_by_text(said, exact=True).wait_for(timeout=15_000)
        await carla.wait_for(state="detached", timeout=10_000)
        assert await page.locator("#placeholder").is_visible()
        # Carla's draft does not follow ada to another customer (user run 48: it showed
        # under Uma's conversation, ready to send); Eve's own is still hers
        await open_one(page, "conv-dan", "I want a refund")
        assert await page.input_value("#reply") == ""
        await open_one(page, "conv-eve", "Is the kettle in stock?")
        assert await page.input_value("#reply") == "Yes, back in st"

        # ada transfers Dan's herself: the router's revoked of it (her reason) is no news
        await open_one(page, "conv-dan", "I want a refund")
        await page.fill("#transfer-pool", "billing")
        await page.fill("#transfer-reason", "wants a refund")
        await page.click("#transfer")
        await notice.wait_for(state="hidden", timeout=10_000)  # her action ended the notice
        await produce(topics.kafka_bootstrap, assignments,
                      [(b"ada", revoked("conv-dan", "wants a refund").to_json_bytes())])
        await page.locator("#conversations li[data-conversation='conv-dan']").wait_for(
            state="detached", timeout=15_000)
        await asyncio.sleep(0.5)  # the event's handling is done by the time the list changed
        assert await notice.is_hidden(), await notice.inner_text()

        # in a Korean console the router's reason is Korean too (user runs 49 and 51 read
        # "customer erased" and "reassigned by sue" in English there)
        await page.evaluate("setLanguage('ko')")
        await produce(topics.kafka_bootstrap, assignments,
                      [(b"ada", revoked("conv-eve", "customer erased").to_json_bytes())])
        said = "Ada Lovelace 상담이 더 이상 배정되어 있지 않습니다: 고객 정보 삭제."
        await notice.get_by_text(said, exact=True).wait_for(timeout=15_000)
        assert await page.evaluate("reasonText('reassigned by sue')") == "sue 님이 재배정"
        assert await page.evaluate("reasonText('queue full: no further pool (hops 2)')") == (
            "대기열이 가득 참: 더 넘길 그룹 없음 (이동 2회)")
        assert await page.evaluate("reasonText('wants a refund')") == "wants a refund"


async def open_one(page: Page, conversation: str, text: str) -> None:
    """Open ``conversation`` from ada's list, once its history shows ``text``."""
    await page.locator(f"#conversations li[data-conversation='{conversation}']").click()
    await page.locator("#history").get_by_text(text).wait_for()
