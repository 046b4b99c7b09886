"""Unlink and merge of assigned conversations through the real broker (issue 11).

Own module, so its own pipeline (two ``omniroute worker`` processes, one namespace).
"""

from __future__ import annotations

import asyncio
from typing import Any

from harness.kafka import consume
from omniroute.contract import (
    Address,
    Channel,
    ChannelAddress,
    ConversationEvent,
    CustomerEvent,
    IdentityLink,
    LinkAction,
)
from omniroute.contract.base import utcnow
from omniroute.identity.customers import customer_id_for

PAT_PHONE, SAM_EMAIL = "+14155550777", "sam@example.org"


def crm(action: LinkAction, ws: str, event_id: str) -> IdentityLink:
    """A (wrong) CRM claim that Pat's phone and Sam's email are one person."""
    return IdentityLink(
        event_id=event_id, workspace=ws, action=action, customer_hint="crm-7", source="crm",
        occurred_at=utcnow(),
        addresses=[ChannelAddress(channel=Channel.SMS, address=Address(value=PAT_PHONE)),
                   ChannelAddress(channel=Channel.EMAIL, address=Address(value=SAM_EMAIL))],
    )


async def until(pipeline: Any, make: Any, ws: str, joined: bool) -> Any:
    """Pat then Sam write until their customers agree (``joined``) or differ."""
    thread = None
    for _ in range(8):
        pat = make(ws, Channel.SMS, PAT_PHONE, text="pat")
        await pipeline.send(pat)
        sam = make(ws, Channel.EMAIL, SAM_EMAIL, text="sam")
        await pipeline.send(sam)
        thread = await pipeline.thread_of(ws, pat, sam)
        if (len(set(thread.message_customers.values())) == 1) == joined:
            return thread, pat, sam
    raise AssertionError(f"customers never {'joined' if joined else 'split'}: {thread}")


async def router_says(pipeline: Any, ws: str, conversation: str, customer: str, kind: str,
                      event_id: str, agent: str | None = None) -> None:
    """A router decision on omniroute.conversations.v1, until it reached the customer's
    partition (so what the test publishes next is applied after it)."""
    news = ConversationEvent(event_id=event_id, workspace=ws, conversation_id=conversation,
                             customer_id=customer, kind=kind, agent_id=agent, pool="main")
    await pipeline.raw("omniroute.conversations.v1", conversation.encode(), news.to_json_bytes())
    marker = f'"{event_id}"'.encode()
    forwarded = await consume(pipeline.settings.kafka_bootstrap,
                              pipeline.topic("omniroute.internal.customers"), 1, timeout=120,
                              where=lambda r: marker in r.value)
    assert forwarded, "the router's news reached the customer's partition"


class TestUnlinkSplitsTheSharedConversation:
    """After an unlink each person's conversation is their own; router and agent are told."""

    async def test_unlink_gives_the_other_writer_a_routed_conversation(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """Pat opens it, a wrong link joins Sam, the agent holds it, the unlink splits it."""
        ws = "unlink-split"
        first = make_inbound(ws, Channel.SMS, PAT_PHONE, text="pat opens")
        await pipeline.send(first)
        opened = (await pipeline.events(ws, 1, kind="opened", timeout=180))[0]
        await pipeline.link(crm(LinkAction.LINK, ws, "wrong-link"))
        joined, pat_joined, sam_joined = await until(pipeline, make_inbound, ws, True)
        for _ in range(30):  # the fold of the two open conversations is eventually consistent
            if len(joined.conversations) == 1:
                break
            joined = await pipeline.thread_of(ws, pat_joined, sam_joined)
        [shared] = joined.conversations
        [customer] = joined.customers
        await router_says(pipeline, ws, shared, customer, "assigned", "as-1", agent="agent-9")
        await pipeline.link(crm(LinkAction.UNLINK, ws, "fix-unlink"))
        split, pat, sam = await until(pipeline, make_inbound, ws, False)
        assert split.message_customers[pat.event_id] == customer_id_for(ws, f"tel:{PAT_PHONE}")
        assert split.message_customers[sam.event_id] == customer_id_for(
            ws, f"mailto:{SAM_EMAIL}")

        async def every(kind: str) -> list[ConversationEvent]:
            """Every event of ``kind`` so far (all partitions)."""
            return await pipeline.events_so_far(ws, kind)

        splits: list[ConversationEvent] = []
        for _ in range(180):  # the split is applied shortly after the addresses moved
            splits = [e for e in await every("opened") if e.reason and "by unlink" in e.reason]
            if splits:
                await asyncio.sleep(3.0)  # what the same split decided alongside lands too
                break
            await asyncio.sleep(1.0)
        moved = {e.message.source_event_id: e.conversation_id
                 for e in await every("message_moved") if e.message}

        async def final(message: Any) -> set[str]:
            """Where a message ended: re-filed by the split (if it raced it), else threaded."""
            if message.event_id in moved:
                return {moved[message.event_id]}
            return set((await pipeline.thread_of(ws, message)).conversations)

        pat_conversation, sam_conversation = await final(pat), await final(sam)
        split_off = {e.conversation_id for e in splits}
        for _ in range(60):  # Sam wrote before the split's part reached Sam's partition:
            if sam_conversation == split_off or sam_conversation == {shared}:
                break  # ... it opened a conversation the part is folded with, a bit later
            await asyncio.sleep(1.0)
            sam_conversation = await final(sam)
        assert pat_conversation == {shared} == {opened.conversation_id}, "the opener keeps it"
        assert sam_conversation != {shared}
        assert [(e.conversation_id, e.customer_id) for e in splits] == [
            (*sam_conversation, customer_id_for(ws, f"mailto:{SAM_EMAIL}"))]
        folded = {e.conversation_id for e in await every("merged") if e.merged_into == shared}
        sams_before = {e.message.source_event_id for e in await every("message_added")
                       if e.message and e.message.text == "sam"
                       and e.conversation_id in {shared, *folded}}
        moves = [e for e in await every("message_moved") if e.conversation_id != shared]
        assert sams_before and {e.message.source_event_id for e in moves if e.message} == (
            sams_before), "every message Sam wrote in the shared conversation is re-filed"
        assert {e.conversation_id for e in moves} == sam_conversation
        notes = await every("note_added")
        assert [e.conversation_id for e in notes if e.reason == "customer split by unlink"] == [
            shared]
        requests = await pipeline.requests(ws)
        routes = [r for r in requests if r.kind == "route" and r.reason
                  and "by unlink" in r.reason]
        assert [(r.conversation_id, r.last_agent_id) for r in routes] == [
            (*sam_conversation, "agent-9")]
        assert any(r.kind == "update" and r.conversation_id == shared and r.pool == "main"
                   for r in requests), "the router hears of the split, in the pool holding it"
        # history and integrations were told: Sam's id was merged into Pat's, then its own
        records = await consume(pipeline.settings.kafka_bootstrap,
                                pipeline.topic("omniroute.customers.v1"), 2, timeout=60,
                                where=lambda r: CustomerEvent.from_json_bytes(r.value)
                                .workspace == ws)
        said = [CustomerEvent.from_json_bytes(r.value) for r in records]
        pat_id, sam_id = (customer_id_for(ws, a) for a in (f"tel:{PAT_PHONE}",
                                                           f"mailto:{SAM_EMAIL}"))
        survivor, loser = min(pat_id, sam_id), max(pat_id, sam_id)
        assert [(e.customer_id, e.kind.value, e.merged_into) for e in said] == [
            (loser, "merged", survivor), (loser, "unmerged", None)]
        assert {r.key for r in records} == {loser.encode()}


class TestMergeOfAssignedConversations:
    """Two open conversations, the later one assigned: it keeps the customer's work."""

    async def test_assigned_conversation_keeps_and_the_waiting_one_is_cancelled(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """Pat waits (earlier), Sam is with agent-3; the link keeps Sam's and cancels Pat's."""
        ws = "merge-assigned"
        pat = make_inbound(ws, Channel.SMS, PAT_PHONE, text="pat")
        await pipeline.send(pat)
        await pipeline.events(ws, 1, kind="opened", timeout=180)
        sam = make_inbound(ws, Channel.EMAIL, SAM_EMAIL, text="sam")
        await pipeline.send(sam)
        opened = await pipeline.events(ws, 2, kind="opened", timeout=180)
        by_customer = {e.customer_id: e.conversation_id for e in opened}
        sam_customer = customer_id_for(ws, f"mailto:{SAM_EMAIL}")
        pat_customer = customer_id_for(ws, f"tel:{PAT_PHONE}")
        sams, pats = by_customer[sam_customer], by_customer[pat_customer]
        await router_says(pipeline, ws, sams, sam_customer, "assigned", "as-3", agent="agent-3")
        await pipeline.link(crm(LinkAction.LINK, ws, "merge-link"))
        merged = await pipeline.events(ws, 1, kind="merged", timeout=240)
        assert [(e.conversation_id, e.merged_into) for e in merged] == [(pats, sams)]
        requests = await pipeline.requests(ws)
        cancels = [r for r in requests if r.kind == "cancel"]
        assert [(r.conversation_id, r.channel) for r in cancels] == [(pats, Channel.SMS)]
        assert not [r for r in requests if r.kind == "cancel" and r.conversation_id == sams]
