"""What the console calls a customer who gave no name, in headless Chromium against the
real gateway.

A web chat visitor and a Messenger user whose profile gave no name have opaque addresses,
and the console showed their customer ids ("cus_f72525af23079ab9ee760e34") in the offer,
the list, the conversation's header and the board (user runs 37-39). History holds an
offer to ada of an anonymous visitor's web chat and a Messenger conversation she holds,
written as the sink writes them; the console calls them "Visitor 9F3A" and "Customer
7B21" (the start of their customer ids), and an SMS customer keeps their phone number;
one erased while ada holds the conversation is "Erased customer".
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from e2e.console.on_history import opened_by, signed_in, written
from e2e.console.test_attachments import sign_in
from integration.history.factories import assignment
from omniroute.contract import Address, AssignmentKind, Channel, InboundMessage, utcnow
from omniroute.history.privacy import erase_customer
from omniroute.settings import Settings

VISITOR, MESSENGER = "cus_9f3ab0c1d2e3f4a5b6c7d8e9", "cus_7b21c0ffee0000000000aaaa"
ERASED = "cus_e1a5ed00000000000000beef"


def unnamed(n: int, channel: Channel, provider: str, sender: str) -> InboundMessage:
    return InboundMessage(
        event_id=f"{provider}:names-{n}", occurred_at=utcnow() - timedelta(minutes=5 - n),
        channel=channel, provider=provider, channel_account="shop.test",
        sender=Address(value=sender), recipient=Address(value="shop.test"),
        provider_message_id=f"names-{n}", text=f"question {n}")


async def seed(database_url: str) -> str:
    """The visitor's conversation offered to ada, the Messenger one assigned; her token."""
    chat = unnamed(1, Channel.WEBCHAT, "webchat", "v_0123456789abcdef0123456789abcdef")
    page = unnamed(2, Channel.MESSENGER, "messenger", "7001001")
    start = utcnow() - timedelta(minutes=10)
    gone = unnamed(3, Channel.SMS, "twilio", "+14155550177")
    events: list[tuple[str, object]] = []
    for conversation, customer, message in (("conv-visitor", VISITOR, chat),
                                            ("conv-page", MESSENGER, page),
                                            ("conv-erased", ERASED, gone)):
        events += opened_by(conversation, customer, message, start)
    events += [("assignments", assignment("ada", "conv-page", at=start)),
               ("assignments", assignment("ada", "conv-erased", at=start)),
               ("assignments", assignment("ada", "conv-visitor", AssignmentKind.OFFERED,
                                          at=utcnow() - timedelta(minutes=1),
                                          expires=utcnow() + timedelta(minutes=10)))]
    token = await written(database_url, events)
    conn = await asyncpg.connect(database_url)
    try:
        await erase_customer(conn, ERASED, actor="test")  # while ada holds the conversation
    finally:
        await conn.close()
    return token


async def test_a_customer_without_a_name_is_called_visitor_or_customer(
        topics: Settings, database_url: str) -> None:
    token = await seed(database_url)
    async with signed_in(topics, database_url, token) as (gateway, page, browser):
        offer = page.locator("#offers .offer")
        await offer.wait_for(timeout=30_000)
        assert "Visitor 9F3A" in await offer.inner_text()
        listed = page.locator("[data-conversation='conv-page']")
        await listed.wait_for(timeout=30_000)
        assert "Customer 7B21" in await listed.inner_text()
        await listed.click()
        header = page.locator("#customer-name")
        await header.wait_for(timeout=30_000)
        assert await header.inner_text() == "Customer 7B21"
        assert await header.get_attribute("title") == MESSENGER  # the id, on hover
        # a customer erased while ada holds the conversation is nobody now (user run 42
        # showed "Customer ERAS", from the anonymous id the erasure leaves)
        erased = page.locator("#conversations li.conversation", has_text="SMS")
        assert "Erased customer" in await erased.inner_text()
        for shown in ("#offers", "#conversations", "#customer-name"):
            assert "cus_" not in await page.locator(shown).inner_text(), shown

        # in Korean, the names and what the console draws itself (user run 42: the reply
        # form's channel menu, the header's "Reports" and the knowledge panel were English)
        korean = await (await browser.new_context(locale="ko-KR")).new_page()
        await sign_in(korean, gateway.url, token)
        await korean.locator("[data-conversation='conv-page']").click()
        await korean.locator("#customer-name", has_text="고객 7B21").wait_for(
            timeout=30_000)
        assert await korean.locator("#channel option[value='']").inner_text() == "마지막 채널"
        assert await korean.locator("#reports-link").inner_text() == "보고서"
        await korean.locator("#kb-panel h3", has_text="지식 베이스").wait_for(timeout=30_000)
        assert "의도" in await korean.locator("#kb-triage").inner_text() or \
            "슬롯" in await korean.locator("#kb-triage").inner_text()
