"""Who wrote what, and what happened, in the conversation's history, in headless Chromium
against the real gateway (a Korean console).

User run 43: ada, given Walt's web chat after the answer bot, read the bot's answers, the
automatic hand-off line and (later) her own replies alike, with no author; the bot's
resolution said "해결됨: bot_resolved"; at one instant "escalated" came before the
"reopened" that started it; and delivery states stayed English ("read"). History holds
that conversation as the sink writes it: the customer's question, the bot's answer (read),
the bot's resolution, the customer's "상담원" reopening it with an escalation at the same
instant, the automatic hand-off line and ada's assignment.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from e2e.console.on_history import opened_by, signed_in, written
from e2e.console.test_names import unnamed
from harness.kafka import consume
from integration.history.factories import added, assignment, opened
from omniroute.bot.machine import BOT, RESOLVED_BY_BOT
from omniroute.contract import (
    Address,
    AgentEvent,
    AgentEventKind,
    Author,
    AuthorKind,
    Channel,
    ConversationEvent,
    ConversationEventKind,
    DeliveryState,
    DeliveryStatus,
    OutboundMessage,
    Template,
    utcnow,
)
from omniroute.settings import Settings

CONVERSATION, CUSTOMER = "conv-walt", "cus_3a1700000000000000000000"
Kind = ConversationEventKind


async def seed(database_url: str) -> str:
    """Walt's conversation as run 43 left it, assigned to ada; her token."""
    start = utcnow() - timedelta(minutes=15)
    question = unnamed(1, Channel.WEBCHAT, "webchat", "v_5a17").model_copy(update={
        "event_id": "webchat:walt-1", "occurred_at": start, "text": "환불은 언제 되나요?"})
    again = question.model_copy(update={
        "event_id": "webchat:walt-2", "occurred_at": start + timedelta(minutes=3),
        "provider_message_id": "walt-2", "text": "상담원"})

    def said(n: int, author: Author, text: str, minutes: float) -> OutboundMessage:
        return OutboundMessage(
            event_id=f"walt-out-{n}", occurred_at=start + timedelta(minutes=minutes),
            conversation_id=CONVERSATION, channel=Channel.WEBCHAT, channel_account="shop.test",
            recipient=Address(value="v_5a17"), author=author, text=text)

    def event(n: str, kind: ConversationEventKind, minutes: float,
              reason: str | None = None) -> ConversationEvent:
        return ConversationEvent(
            event_id=f"walt-{n}", occurred_at=start + timedelta(minutes=minutes),
            conversation_id=CONVERSATION, customer_id=CUSTOMER, kind=kind,
            channel=Channel.WEBCHAT, reason=reason)

    answer = said(1, BOT, "도움말 센터의 “환불 안내”입니다.", 0)
    # automation's line, written as a bot without an id (automation/emit.py)
    handoff = said(2, Author(kind=AuthorKind.BOT), "네, 상담원에게 연결해 드리겠습니다.", 3)
    events: list[tuple[str, object]] = [
        ("conversations", opened(CONVERSATION, CUSTOMER, at=start)),
        ("inbound", question),
        ("conversations", added(question, conversation=CONVERSATION, customer=CUSTOMER)),
        ("outbound", answer),
        ("delivery", DeliveryStatus(
            event_id="walt-read", outbound_event_id=answer.event_id, channel=Channel.WEBCHAT,
            provider="webchat", state=DeliveryState.READ, occurred_at=start)),
        ("conversations", event("resolved", Kind.RESOLVED, 2, RESOLVED_BY_BOT)),
        ("inbound", again),
        ("conversations", added(again, conversation=CONVERSATION, customer=CUSTOMER)),
        # the escalation's id sorts before the reopening's, at the same instant
        ("conversations", event("a-escalated", Kind.ESCALATED, 3, "customer asked for a human")),
        ("conversations", event("b-reopened", Kind.REOPENED, 3)),
        # the router let go of it while it waited, held by nobody (user run 57: a merge
        # folded Bea's waiting conversation, and the line read "Taken back from: merged…")
        ("conversations", event("c-dequeued", Kind.UNASSIGNED, 3.5, "merged into conv-walt")),
        ("outbound", handoff),
        ("assignments", assignment("ada", CONVERSATION, at=start)),
        ("outbound", said(3, Author(kind=AuthorKind.AGENT, id="ada", name="Ada"),
                          "환불은 3일 안에 처리됩니다.", 5)),
    ]
    return await written(database_url, events)


async def test_the_history_says_who_wrote_and_what_happened_in_korean(
        topics: Settings, database_url: str) -> None:
    token = await seed(database_url)
    async with signed_in(topics, database_url, token, locale="ko-KR") as (_, page, _browser):
        await page.locator(f"[data-conversation='{CONVERSATION}']").click()
        history = page.locator("#history")
        await history.locator(".activity").first.wait_for(timeout=30_000)
        authors = await history.locator(".message.outbound .author").all_inner_texts()
        assert authors == ["답변 봇", "자동 응답", "ada"]
        assert "· 읽음" in await history.locator(".message.outbound").first.inner_text()
        lines = [line.split(" · ")[0] for line in
                 await history.locator(".activity").all_inner_texts()]
        assert lines[:3] == ["답변 봇이 해결", "고객이 다시 문의함",
                             "상향 요청: customer asked for a human"]
        assert lines[3].startswith("대기열에서 빠짐: ") and "배정 해제" not in lines[3]

        # she hands it to billing with a word for the next agent (the form had no place
        # for one, user run 42), in Korean placeholders
        reason = page.locator("#transfer-reason")
        assert await reason.get_attribute("placeholder") == "이관 사유 (받는 상담원이 봅니다)"
        await page.fill("#transfer-pool", "billing")
        await reason.fill("환불 요청")
        await page.click("#transfer")
        (sent,) = await consume(topics.kafka_bootstrap,
                                topics.topic("omniroute.agent-events.v1"), 1,
                                where=lambda r: AgentEvent.from_json_bytes(r.value).kind
                                is AgentEventKind.TRANSFER)
        transfer = AgentEvent.from_json_bytes(sent.value)
        assert (transfer.conversation_id, transfer.target_pool, transfer.reason) == (
            CONVERSATION, "billing", "환불 요청")
        for _ in range(100):  # emptied once the gateway's 202 is back (Kafka had it first)
            if await reason.input_value() == "":
                break
            await asyncio.sleep(0.1)
        assert await reason.input_value() == ""


async def test_a_proactive_template_is_read_before_the_answer_it_got(
        topics: Settings, database_url: str) -> None:
    """User run 45: Mia's answer to an order_shipped template opened a conversation whose
    history began with her answer. The template (stored under its own prc_ id, found by her
    address) now comes first, named and with its parameters, headed as a proactive message."""
    start = utcnow() - timedelta(minutes=20)
    template = OutboundMessage(
        event_id="proactive.mia", occurred_at=start, conversation_id="prc_mia",
        channel=Channel.WHATSAPP, channel_account="10655", recipient=Address(value="14155550177"),
        author=Author(kind=AuthorKind.SYSTEM), proactive=True, automation="proactive",
        template=Template(name="order_shipped", language="en", parameters=["Mia", "ORD-9931"]))
    answer = unnamed(2, Channel.WHATSAPP, "whatsapp", "14155550177").model_copy(update={
        "event_id": "whatsapp:mia-1", "occurred_at": start + timedelta(minutes=5),
        "text": "배송일을 바꿀 수 있나요?"})
    token = await written(database_url, [
        ("outbound", template),
        *opened_by("conv-mia", "cus_m1a000000000000000000000", answer, answer.occurred_at),
        ("assignments", assignment("ada", "conv-mia", at=start))])
    async with signed_in(topics, database_url, token, locale="ko-KR") as (_, page, _browser):
        await page.locator("[data-conversation='conv-mia']").click()
        first = page.locator("#history .message").first
        await first.wait_for(timeout=30_000)
        assert await first.locator(".author").inner_text() == "먼저 보낸 메시지"
        assert "템플릿 order_shipped (Mia, ORD-9931)" in await first.inner_text()
        assert "배송일을 바꿀 수 있나요?" in await page.locator("#history .message").nth(1).inner_text()
