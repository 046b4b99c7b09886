"""Identity and threading through the real broker, with worker processes."""

from __future__ import annotations

from typing import Any

from omniroute.contract import Channel, ConversationEventKind

Kind = ConversationEventKind


class TestPhones:
    """The same phone on SMS and WhatsApp is one customer with one conversation."""

    async def test_sms_and_whatsapp_wa_id_are_one_customer_and_conversation(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """+82 10-1234-5678 on SMS and wa_id 821012345678 on WhatsApp."""
        ws = "phones"
        await pipeline.send(make_inbound(ws, Channel.SMS, "+82 10-1234-5678"))
        await pipeline.send(make_inbound(ws, Channel.WHATSAPP, "821012345678"))
        added = await pipeline.events(ws, 2, kind="message_added", timeout=120)
        assert len(added) == 2
        assert len({e.customer_id for e in added}) == 1
        assert len({e.conversation_id for e in added}) == 1
        assert {e.channel for e in added} == {Channel.SMS, Channel.WHATSAPP}
