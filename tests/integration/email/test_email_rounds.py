"""An SMTP relay that is away, or answers 4xx, delays replies; none is lost or sent twice.

``omniroute email-delivery`` against the real broker and a local aiosmtpd relay:
while the relay port is closed the replies wait on ``omniroute.internal.email-retry``
(the conversation's two in their order), and go out once each when it opens; a relay
that answers ``451`` every round fails the reply once, with the rounds in the reason.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from aiosmtpd.smtp import SMTP, Envelope, Session

from harness.kafka import consume, produce
from harness.ports import free_port
from integration.connectors.test_delivery_retry import settled, statuses
from integration.email.test_smtp_roundtrip import MAILBOX, Sink
from omniroute.contract import (
    Address,
    Author,
    AuthorKind,
    Channel,
    DeliveryState,
    DeliveryStatus,
    OutboundMessage,
)
from omniroute.settings import Settings
from omniroute_connectors.email.sender import EmailDelivery, SmtpRelay


def reply(n: int, conversation: str) -> OutboundMessage:
    return OutboundMessage(
        event_id=f"mail-{n}", conversation_id=conversation, channel=Channel.EMAIL,
        channel_account=MAILBOX, recipient=Address(value=f"{conversation}@example.com"),
        author=Author(kind=AuthorKind.AGENT, id="a1", name="Sam"), text=f"reply {n}")


class Busy(Sink):
    """A relay that answers ``451`` to the first ``refusals`` mails, then takes them."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals
        self.refused = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refused < self.refusals:
            self.refused += 1
            return "451 4.3.0 Mail server temporarily rejected message"
        return await super().handle_DATA(server, session, envelope)


async def test_replies_wait_while_the_relay_is_away_and_go_out_once_in_order(
        topics: Settings) -> None:
    """The relay's port is closed: the first reply's five attempts fail, it waits for a
    round; the next ones wait behind it without an attempt. The relay opens: each reply
    reaches it once, a conversation's two in their order, each with one ``sent`` status."""
    port = free_port()
    settings = topics.model_copy(update={"smtp_relay_port": port,
                                         "delivery_retry_seconds": 1.0})
    delivery = EmailDelivery(settings, SmtpRelay(settings, backoff=0.05))
    worker = asyncio.create_task(delivery.run())
    replies = [reply(1, "conv-a"), reply(2, "conv-a"), reply(3, "conv-b")]
    await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                  [(m.conversation_id.encode(), m.to_json_bytes()) for m in replies])
    sink = Sink()
    server = None
    try:
        waiting = await consume(settings.kafka_bootstrap,
                                settings.topic("omniroute.internal.email-retry"), 3, timeout=60)
        assert len(waiting) == 3, "every reply waits for a later round"
        assert await statuses(settings) == [], "nothing is sent or failed while they wait"
        queued = await statuses(settings, queued=True)
        assert sorted((s.outbound_event_id, s.provider) for s in queued) == [
            (m.event_id, "smtp") for m in replies], "each says it waits"
        server = await asyncio.get_running_loop().create_server(
            lambda: SMTP(sink), host="127.0.0.1", port=port)
        sent = await consume(settings.kafka_bootstrap, settings.topic("omniroute.delivery.v1"),
                             3, timeout=60, where=settled)
        assert len(sent) == 3
        await asyncio.sleep(1.5)  # a further round, were one left, would be due by now
    finally:
        delivery.stop()
        await worker
        if server is not None:
            server.close()
    bodies = await sink.bodies()
    assert sorted(bodies) == ["reply 1", "reply 2", "reply 3"], "each reply reached it once"
    assert bodies.index("reply 1") < bodies.index("reply 2"), "a conversation keeps its order"
    assert Counter((s.outbound_event_id, s.state) for s in await statuses(settings)) == {
        (m.event_id, DeliveryState.SENT): 1 for m in replies}


async def test_a_relay_that_answers_451_every_round_fails_the_reply_once(
        topics: Settings) -> None:
    """Two attempts, then one a round for two rounds, all ``451``: one ``failed`` status
    with the relay's code and the rounds; the next reply, once the relay takes mail, is
    sent."""
    sink = Busy(refusals=5 + 2)
    port = free_port()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(sink), host="127.0.0.1", port=port)
    settings = topics.model_copy(update={"smtp_relay_port": port, "delivery_retry_rounds": 2,
                                         "delivery_retry_seconds": 0.5})
    delivery = EmailDelivery(settings, SmtpRelay(settings, backoff=0.05))
    worker = asyncio.create_task(delivery.run())
    lost, after = reply(4, "conv-c"), reply(5, "conv-d")
    try:
        await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                      [(b"conv-c", lost.to_json_bytes())])
        (failed,) = await consume(settings.kafka_bootstrap,
                                  settings.topic("omniroute.delivery.v1"), 1, timeout=60,
                                  where=settled)
        await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                      [(b"conv-d", after.to_json_bytes())])
        await consume(settings.kafka_bootstrap, settings.topic("omniroute.delivery.v1"), 2,
                      timeout=60, where=settled)
    finally:
        delivery.stop()
        await worker
        server.close()
    status = DeliveryStatus.from_json_bytes(failed.value)
    assert (status.outbound_event_id, status.state, status.error_code) == (
        lost.event_id, DeliveryState.FAILED, "451")
    assert status.error_message is not None
    assert status.error_message.endswith("(tried again 2 times, 0.5 s apart)")
    assert sink.refused == 7
    assert await sink.bodies() == ["reply 5"]
    assert Counter((s.outbound_event_id, s.state) for s in await statuses(settings)) == {
        (lost.event_id, DeliveryState.FAILED): 1, (after.event_id, DeliveryState.SENT): 1}
