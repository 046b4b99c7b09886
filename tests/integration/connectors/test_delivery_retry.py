"""A provider that cannot be reached delays its messages, and holds up nothing else.

``omniroute delivery`` against the real broker and a fake WhatsApp Cloud API that
answers 503 while it is "down": the message waits on
``omniroute.internal.delivery-retry`` and goes out once when the provider is back,
the messages after it go out meanwhile, a provider down for every round fails the
message once with the rounds in its reason, and a deferred message outlives a
SIGKILLed delivery process. Every wait is announced by a ``queued`` status.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path

from harness.fleet import Fleet
from harness.kafka import consume, consume_all, produce
from harness.providers.base import Failure
from harness.providers.graph import FakeGraph
from integration.connectors.test_delivery import graph, graph_settings, outbound, wrote_lately
from omniroute.contract import DeliveryState, DeliveryStatus, OutboundMessage, Template
from omniroute.delivery.service import DeliveryService
from omniroute.settings import Settings
from omniroute_connectors.whatsapp.outbound import WhatsAppSender

__all__ = ["graph"]  # the fake Graph API fixture
DOWN = Failure(503, 2)  # Graph's "Service temporarily unavailable"


def retry_settings(topics: Settings, graph: FakeGraph, **changes: object) -> Settings:
    """Two attempts 50 ms apart per round, rounds a second apart."""
    return graph_settings(topics, graph).model_copy(update={
        "delivery_max_attempts": 2, "delivery_retry_seconds": 1.0} | changes)


async def produce_replies(settings: Settings, *replies: OutboundMessage) -> None:
    await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                  [(m.conversation_id.encode(), m.to_json_bytes()) for m in replies])


async def statuses(settings: Settings, *, queued: bool = False) -> list[DeliveryStatus]:
    """Every status on omniroute.delivery.v1 so far (``queued`` ones only when asked)."""
    return [s for s in (DeliveryStatus.from_json_bytes(r.value) for r in await consume_all(
        settings.kafka_bootstrap, settings.topic("omniroute.delivery.v1")))
            if queued or s.state is not DeliveryState.QUEUED]


def settled(record: object) -> bool:
    """Whether a delivery.v1 record says a message went out or failed (not ``queued``)."""
    return DeliveryStatus.from_json_bytes(
        record.value).state is not DeliveryState.QUEUED  # type: ignore[attr-defined]


def bodies(graph: FakeGraph, since: float = 0.0) -> list[str]:
    """The texts (or template names) the fake Graph API was asked to send, in order."""
    return [r.json["text"]["body"] if "text" in r.json else r.json["template"]["name"]
            for r in graph.requests if r.at >= since]


async def test_an_unreachable_provider_delays_its_messages_and_holds_up_nothing(
        topics: Settings, graph: FakeGraph) -> None:
    """The first reply finds the provider down (both attempts 503): it is written to the
    retry topic, with a ``queued`` status saying why and when. The second reply of the conversation,
    to the same account, waits behind it without an attempt; a template to another
    customer through another account of the business goes out at once. A round later
    both replies go out once, in their order, and every message has one ``accepted``
    status."""
    settings = retry_settings(topics, graph, delivery_retry_seconds=3.0)
    customer = "972500000041"
    first, second = outbound(41, customer), outbound(42, customer)
    other = outbound(43, "972500000043", account="1122334455999", text=None,
                     template=Template(name="order_update", language="en", parameters=["7"]))
    await wrote_lately(settings, customer)
    graph.fail_next = [DOWN, DOWN]  # the first reply's two attempts
    await produce_replies(settings, first, second)
    service = DeliveryService(settings, senders=[WhatsAppSender(settings)])
    await service.start()
    try:
        deferred = await consume(settings.kafka_bootstrap,
                                 settings.topic("omniroute.internal.delivery-retry"), 2,
                                 timeout=60)
        await produce_replies(settings, other)
        reported = await consume(settings.kafka_bootstrap,
                                 settings.topic("omniroute.delivery.v1"), 3, timeout=60,
                                 where=settled)
    finally:
        await service.stop()
    assert [OutboundMessage.from_json_bytes(r.value) for r in deferred] == [first, second]
    waited, behind = [s for s in await statuses(settings, queued=True)
                      if s.state is DeliveryState.QUEUED]
    assert (waited.outbound_event_id, waited.error_code) == (first.event_id,
                                                              "retries_exhausted:2")
    assert behind.outbound_event_id == second.event_id
    assert behind.error_message is not None and behind.error_message.startswith(
        "whatsapp_cloud could not be reached less than 3 s ago; next try at ")
    assert {dict(r.headers)["omniroute-delivery-round"] for r in deferred} == {b"1"}
    order = [DeliveryStatus.from_json_bytes(r.value).outbound_event_id for r in reported]
    assert order.index(first.event_id) < order.index(second.event_id)
    final = await statuses(settings)
    assert Counter((s.outbound_event_id, s.state) for s in final) == {
        (m.event_id, DeliveryState.ACCEPTED): 1 for m in (first, second, other)}
    assert bodies(graph) == ["reply 41", "reply 41", "order_update", "reply 41", "reply 42"], (
        "the template did not wait for the round")
    sent = [r.at for r in graph.requests]
    assert sent[3] - sent[1] >= 2.9, "sent again before the round was due"


async def test_a_reply_tried_again_in_vain_keeps_its_place_in_its_conversation(
        topics: Settings, graph: FakeGraph) -> None:
    """The first reply fails its first round too and goes to the end of the retry topic,
    behind the second reply of its conversation; the provider is back when the second
    comes due. It still waits for the first: the customer gets them in order (user run 35
    got an agent's email reply before the acknowledgement that came first)."""
    settings = retry_settings(topics, graph)
    first, second = outbound(51, "972500000051"), outbound(52, "972500000051")
    await wrote_lately(settings, first.recipient.value)
    graph.fail_next = [DOWN, DOWN, DOWN]  # the first reply's two attempts and first round
    await produce_replies(settings, first, second)
    service = DeliveryService(settings, senders=[WhatsAppSender(settings)])
    await service.start()
    try:
        await consume(settings.kafka_bootstrap, settings.topic("omniroute.delivery.v1"), 2,
                      timeout=60, where=settled)
    finally:
        await service.stop()
    assert bodies(graph) == ["reply 51"] * 4 + ["reply 52"]
    assert Counter((s.outbound_event_id, s.state) for s in await statuses(settings)) == {
        (m.event_id, DeliveryState.ACCEPTED): 1 for m in (first, second)}


async def test_after_a_restart_a_new_reply_still_waits_behind_the_earlier_one(
        topics: Settings, graph: FakeGraph) -> None:
    """A delivery process defers a reply (provider down) and stops; the provider is back
    when the next one starts and a second reply of the conversation arrives. The new
    process read what waits on its retry partitions when it was assigned them, so the
    second reply waits behind the first: the customer gets them in order (before, only the
    process that wrote a waiting reply knew of it, and the second went out at once, seconds
    before the first)."""
    settings = retry_settings(topics, graph, delivery_retry_seconds=10.0)  # > the restart
    first, second = outbound(61, "972500000061"), outbound(62, "972500000061")
    await wrote_lately(settings, first.recipient.value)
    graph.fail_next = [DOWN, DOWN]  # the first reply's two attempts
    await produce_replies(settings, first)
    before = DeliveryService(settings, senders=[WhatsAppSender(settings)])
    await before.start()
    try:
        await consume(settings.kafka_bootstrap,
                      settings.topic("omniroute.internal.delivery-retry"), 1, timeout=60)
    finally:
        await before.stop()
    after = DeliveryService(settings, senders=[WhatsAppSender(settings)])
    await after.start()
    try:
        await produce_replies(settings, second)
        await consume(settings.kafka_bootstrap, settings.topic("omniroute.delivery.v1"), 2,
                      timeout=60, where=settled)
    finally:
        await after.stop()
    assert bodies(graph) == ["reply 61", "reply 61", "reply 61", "reply 62"], (
        "the second reply went out before the first")
    assert Counter((s.outbound_event_id, s.state) for s in await statuses(settings)) == {
        (m.event_id, DeliveryState.ACCEPTED): 1 for m in (first, second)}


async def test_a_provider_down_for_every_round_fails_the_message_once(
        topics: Settings, graph: FakeGraph) -> None:
    """Two rounds after the first try, the reply fails with ``retries_exhausted`` and says
    how often it was sent again; the next reply (the provider is back) goes out."""
    settings = retry_settings(topics, graph, delivery_retry_rounds=2,
                              delivery_retry_seconds=0.5)
    lost, after = outbound(43, "972500000043"), outbound(44, "972500000044")
    for reply in (lost, after):
        await wrote_lately(settings, reply.recipient.value)
    graph.fail_next = [DOWN] * 4  # two attempts, then one per round
    await produce_replies(settings, lost)
    service = DeliveryService(settings, senders=[WhatsAppSender(settings)])
    await service.start()
    try:
        (failed,) = await consume(settings.kafka_bootstrap,
                                  settings.topic("omniroute.delivery.v1"), 1, timeout=60,
                                  where=settled)
        await produce_replies(settings, after)
        await consume(settings.kafka_bootstrap, settings.topic("omniroute.delivery.v1"), 2,
                      timeout=60, where=settled)
    finally:
        await service.stop()
    status = DeliveryStatus.from_json_bytes(failed.value)
    assert (status.outbound_event_id, status.state) == (lost.event_id, DeliveryState.FAILED)
    assert status.error_code == "retries_exhausted:2"  # Graph's code for the 503
    assert status.error_message is not None
    assert status.error_message.endswith("(tried again 2 times, 0.5 s apart)")
    assert bodies(graph) == ["reply 43"] * 4 + ["reply 44"]
    assert Counter((s.outbound_event_id, s.state) for s in await statuses(settings)) == {
        (lost.event_id, DeliveryState.FAILED): 1, (after.event_id, DeliveryState.ACCEPTED): 1}
    assert [(s.error_message or "").rsplit(" (", 1)[-1] for s in await statuses(
        settings, queued=True) if (s.outbound_event_id, s.state) == (
            lost.event_id, DeliveryState.QUEUED)] == [
        "round 1 of 2)", "round 2 of 2)"], "one queued status a round"


async def test_a_deferred_message_outlives_a_killed_delivery_process(
        topics: Settings, graph: FakeGraph, tmp_path: Path) -> None:
    """``omniroute delivery`` defers a reply while the provider is down and is SIGKILLed;
    the provider comes back, the restarted process sends the reply once."""
    settings = retry_settings(topics, graph)
    reply = outbound(45, "972500000045")
    await wrote_lately(settings, reply.recipient.value)
    graph.fail_next = [DOWN] * 1000
    env = {"PATH": os.environ["PATH"], "OMNIROUTE_INSTANCE_ID": f"{settings.topic_namespace}d",
           "OMNIROUTE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
           "OMNIROUTE_TOPIC_NAMESPACE": settings.topic_namespace,
           "OMNIROUTE_META_ACCESS_TOKEN": "graph-token",
           "OMNIROUTE_META_GRAPH_BASE_URL": graph.base_url,
           "OMNIROUTE_DELIVERY_BACKOFF_SECONDS": "0.05", "OMNIROUTE_DELIVERY_MAX_ATTEMPTS": "2",
           "OMNIROUTE_DELIVERY_RETRY_SECONDS": "1"}
    fleet = Fleet(env=env, logs=tmp_path)
    fleet.start("delivery", "delivery")
    try:
        await produce_replies(settings, reply)
        deferred = await consume(settings.kafka_bootstrap,
                                 settings.topic("omniroute.internal.delivery-retry"), 2,
                                 timeout=90)
        assert len(deferred) == 2, f"deferred {len(deferred)} times\n" + (
            tmp_path / "delivery.log").read_text(errors="replace")[-3000:]
        fleet.assert_running()
        fleet.kill("delivery")
        back = time.monotonic()
        graph.fail_next = []
        fleet.restart("delivery")
        reported = await consume(settings.kafka_bootstrap,
                                 settings.topic("omniroute.delivery.v1"), 1, timeout=90,
                                 where=settled)
        assert reported, "the deferred reply was never delivered\n" + (
            tmp_path / "delivery.log").read_text(errors="replace")[-3000:]
        await asyncio.sleep(2.0)  # a second round, were one left, would be due by now
    finally:
        fleet.stop_all()
    assert [(s.outbound_event_id, s.state) for s in await statuses(settings)] == [
        (reply.event_id, DeliveryState.ACCEPTED)]
    assert bodies(graph, since=back) == ["reply 45"], "sent once after the provider came back"
