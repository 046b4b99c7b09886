"""``omniroute delivery`` against the real broker and a fake WhatsApp Cloud API."""

from __future__ import annotations

import asyncio
from base64 import b64decode
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from prometheus_client.parser import text_string_to_metric_families

from harness.kafka import consume, consume_all, produce
from harness.ports import free_port
from harness.providers.base import Failure
from harness.providers.graph import FakeGraph
from omniroute.automation.survey import rating_choices
from omniroute.contract import (
    Address,
    Author,
    AuthorKind,
    Channel,
    Choice,
    DeadLetter,
    DeliveryState,
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
    Template,
    utcnow,
)
from omniroute.delivery.reported import CHECKS, DUPLICATES
from omniroute.delivery.service import DeliveryService
from omniroute.observability.health import serve_operations
from omniroute.settings import Settings
from omniroute_connectors.meta.outbound import InstagramSender, MessengerSender
from omniroute_connectors.whatsapp.outbound import WhatsAppSender

PHONE_ID = "1122334455667"


def exported_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page by name and sorted labels."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def inbound(customer: str, minutes_ago: float, channel: Channel = Channel.WHATSAPP,
            account: str = PHONE_ID) -> InboundMessage:
    provider = "whatsapp_cloud" if channel is Channel.WHATSAPP else channel.value
    return InboundMessage(
        event_id=f"{channel}:wamid.in-{customer}", channel=channel, provider=provider,
        channel_account=account, sender=Address(value=customer),
        recipient=Address(value=account), provider_message_id=f"wamid.in-{customer}",
        provider_timestamp=utcnow() - timedelta(minutes=minutes_ago), text="hi")


def outbound(n: int, customer: str, channel: Channel = Channel.WHATSAPP,
             account: str = PHONE_ID, **extra: object) -> OutboundMessage:
    fields: dict[str, object] = {"text": f"reply {n}"} | extra
    return OutboundMessage(
        event_id=f"out-{n}", conversation_id=f"conv-{customer}", channel=channel,
        channel_account=account, recipient=Address(value=customer),
        author=Author(kind=AuthorKind.AGENT, id="a1"), **fields)  # type: ignore[arg-type]


async def test_delivery_window_retries_and_rate_limit(topics: Settings, graph: FakeGraph) -> None:
    """In-window texts are sent (one after a retried 429), an out-of-window text fails
    clearly, an out-of-window template goes out, and the account's rate limit holds."""
    settings = Settings(kafka_bootstrap=topics.kafka_bootstrap,
                        topic_namespace=topics.topic_namespace, meta_access_token="graph-token",
                        meta_graph_base_url=graph.base_url, delivery_backoff_seconds=0.05,
                        delivery_rate_per_second=5.0)
    graph.fail_next = [Failure(429, 130429)]  # the first call is throttled, then accepted
    await produce(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"), [
        (b"k", inbound("972500000001", minutes_ago=10).to_json_bytes()),
        (b"k", inbound("972500000002", minutes_ago=25 * 60).to_json_bytes()),
    ])
    messages = [outbound(i, "972500000001") for i in range(1, 8)] + [
        outbound(8, "972500000002"),
        outbound(9, "972500000002", text=None,
                 template=Template(name="order_update", language="en", parameters=["42"]))]
    await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                  [(m.conversation_id.encode(), m.to_json_bytes()) for m in messages])
    service = DeliveryService(settings, senders=[WhatsAppSender(settings)])
    port = free_port()
    await service.start()
    runner = await serve_operations(port, service.health())
    try:
        records = await consume(settings.kafka_bootstrap, settings.topic("omniroute.delivery.v1"),
                                9, timeout=60)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                assert response.status == 200
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                metrics = await response.text()
    finally:
        await runner.cleanup()
        await service.stop()
    assert 'component="delivery"' in metrics
    exported = exported_samples(metrics)
    assert exported[("omniroute_messages_total", (
        ("channel", "whatsapp"), ("component", "delivery"), ("direction", "in"),
        ("topic", "omniroute.outbound.v1")))] >= 9
    assert exported[("omniroute_messages_total", (
        ("channel", "whatsapp"), ("component", "delivery"), ("direction", "out"),
        ("topic", "omniroute.delivery.v1")))] >= 9
    assert exported[("omniroute_retries_total",
                     (("component", "delivery"), ("operation", "provider_send")))] >= 1
    assert exported[("omniroute_processing_seconds_count", (("stage", "delivery"),))] >= 9
    assert exported[("omniroute_rebalances_total", (("component", "delivery"),))] >= 1
    statuses = {DeliveryStatus.from_json_bytes(r.value).outbound_event_id:
                DeliveryStatus.from_json_bytes(r.value) for r in records}
    assert len(statuses) == 9
    for n in range(1, 8):
        assert statuses[f"out-{n}"].state is DeliveryState.ACCEPTED
        assert statuses[f"out-{n}"].provider_message_id.startswith("wamid.FAKE")  # type: ignore[union-attr]
    assert statuses["out-8"].state is DeliveryState.FAILED
    assert statuses["out-8"].error_code == "outside_window"
    assert statuses["out-9"].state is DeliveryState.ACCEPTED
    sent = [r.json for r in graph.requests]
    assert len(sent) == 9  # 7 texts + 1 retry + 1 template; nothing for the refused one
    assert {"messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "972500000001", "type": "text",
            "text": {"body": "reply 1", "preview_url": False}} in sent
    [template] = [body["template"] for body in sent if body["type"] == "template"]
    assert template == {"name": "order_update", "language": {"code": "en"},
                                    "components": [{"type": "body", "parameters": [
                                        {"type": "text", "text": "42"}]}]}
    assert {r.header("Authorization") for r in graph.requests} == {"Bearer graph-token"}
    # 5/s with a burst of 5: the 9 calls cannot all fit in the first second
    times = [r.at for r in graph.requests]
    assert times[-1] - times[0] >= (len(times) - 5) / 5.0 - 0.05


def graph_settings(topics: Settings, graph: FakeGraph) -> Settings:
    """Delivery to the fake Graph API, retries 50 ms apart."""
    return Settings(kafka_bootstrap=topics.kafka_bootstrap,
                    topic_namespace=topics.topic_namespace, meta_access_token="graph-token",
                    meta_graph_base_url=graph.base_url, delivery_backoff_seconds=0.05)


async def wrote_lately(settings: Settings, customer: str) -> None:
    """``customer`` wrote 5 minutes ago: replies are inside WhatsApp's 24-hour window."""
    await produce(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"),
                  [(b"k", inbound(customer, minutes_ago=5).to_json_bytes())])


async def test_a_message_reported_but_not_committed_is_not_sent_again(
        topics: Settings, graph: FakeGraph) -> None:
    """A delivery process dies after a reply's statuses are on omniroute.delivery.v1 but
    before its offset is committed: the next one reads the reply again, finds its status and
    does not send it to the customer a second time; the next reply goes out once."""
    settings = graph_settings(topics, graph)
    customer = "972500000011"
    await wrote_lately(settings, customer)
    first, second = outbound(21, customer), outbound(22, customer)
    await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                  [(m.conversation_id.encode(), m.to_json_bytes()) for m in (first, second)])
    statuses_topic = settings.topic("omniroute.delivery.v1")

    dying = DeliveryService(settings, senders=[WhatsAppSender(settings)])
    never = asyncio.Event()

    async def dies_before_committing(*_args: object, **_kwargs: object) -> None:
        await never.wait()  # the process is gone before the commit reaches the broker

    dying.consumer.commit = dies_before_committing  # type: ignore[method-assign]
    await dying.start()
    try:
        reported = await consume(settings.kafka_bootstrap, statuses_topic, 1, timeout=60)
    finally:
        await dying.stop()
    assert [DeliveryStatus.from_json_bytes(r.value).outbound_event_id
            for r in reported] == [first.event_id]
    assert len(graph.requests) == 1

    service = DeliveryService(settings, senders=[WhatsAppSender(settings)])
    await service.start()
    try:
        records = await consume(settings.kafka_bootstrap, statuses_topic, 1, timeout=60,
                                where=lambda r: b"out-22" in r.value)
        assert records, "the next reply was delivered"
    finally:
        await service.stop()
    everything = await consume_all(settings.kafka_bootstrap, statuses_topic)
    per_reply = Counter(DeliveryStatus.from_json_bytes(r.value).outbound_event_id
                        for r in everything)
    assert per_reply == {first.event_id: 1, second.event_id: 1}
    assert [r.json["text"]["body"] for r in graph.requests] == ["reply 21", "reply 22"], (
        "each reply reached the customer once")


async def test_a_failed_commit_loses_nothing_and_sends_nothing_twice(
        topics: Settings, graph: FakeGraph) -> None:
    """The broker refuses one offset commit mid-batch: the replies after it in that batch are
    still delivered, and the one whose commit failed is not sent again."""
    settings = graph_settings(topics, graph)
    customer = "972500000012"
    await wrote_lately(settings, customer)
    replies = [outbound(n, customer) for n in range(31, 35)]
    await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                  [(m.conversation_id.encode(), m.to_json_bytes()) for m in replies])
    service = DeliveryService(settings, senders=[WhatsAppSender(settings)])
    commit = service.consumer.commit
    refused: list[object] = []

    async def refuses_the_first(offsets: object) -> None:
        if not refused:
            refused.append(offsets)
            raise KafkaConnectionError("the coordinator went away")
        await commit(offsets)

    service.consumer.commit = refuses_the_first  # type: ignore[method-assign]
    await service.start()
    try:
        statuses = await consume(settings.kafka_bootstrap, settings.topic("omniroute.delivery.v1"),
                                 len(replies), timeout=60)
        await asyncio.sleep(2.0)  # anything sent twice would have been sent by now
    finally:
        await service.stop()
    assert refused, "a commit was refused"
    assert sorted(DeliveryStatus.from_json_bytes(r.value).outbound_event_id
                  for r in statuses) == [m.event_id for m in replies]
    assert [r.json["text"]["body"] for r in graph.requests] == [m.text for m in replies]


async def test_replies_written_in_transactions_are_looked_up_once_per_partition(
        topics: Settings, graph: FakeGraph) -> None:
    """The gateway and the worker write replies in transactions, whose markers take offsets:
    only the first reply of a partition is looked up on omniroute.delivery.v1, not each one
    (offsets are not consecutive)."""
    settings = graph_settings(topics, graph)
    customer = "972500000013"
    await wrote_lately(settings, customer)
    replies = [outbound(n, customer) for n in range(41, 47)]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap,
                                transactional_id=f"{settings.topic_namespace}-replies")
    await producer.start()
    try:
        for reply in replies:
            async with producer.transaction():
                await producer.send(settings.topic("omniroute.outbound.v1"), reply.to_json_bytes(),
                                    key=reply.conversation_id.encode())
    finally:
        await producer.stop()
    before = CHECKS.labels("not_found")._value.get()
    service = DeliveryService(settings, senders=[WhatsAppSender(settings)])
    await service.start()
    try:
        statuses = await consume(settings.kafka_bootstrap, settings.topic("omniroute.delivery.v1"),
                                 len(replies), timeout=60)
    finally:
        await service.stop()
    assert len(statuses) == len(replies)
    assert CHECKS.labels("not_found")._value.get() - before == 1, "one partition, one look-up"
    assert [r.json["text"]["body"] for r in graph.requests] == [m.text for m in replies]


async def test_a_reply_written_twice_reaches_the_customer_once(
        topics: Settings, graph: FakeGraph) -> None:
    """One reply, two records with its event id: the gateway lost the broker's acknowledgement
    (the broker was SIGKILLed under load), answered the app an error, and the app's retry was
    written again. Delivery sends it once, whether the second record comes while the first is
    fresh in this process or after a restart; the next reply still goes out."""
    settings = graph_settings(topics, graph)
    customer = "972500000014"
    await wrote_lately(settings, customer)
    outbound_topic = settings.topic("omniroute.outbound.v1")
    statuses_topic = settings.topic("omniroute.delivery.v1")
    first, second, third = (outbound(n, customer) for n in (51, 52, 53))

    async def write(*messages: OutboundMessage) -> None:
        await produce(settings.kafka_bootstrap, outbound_topic,
                      [(m.conversation_id.encode(), m.to_json_bytes()) for m in messages])

    def accepted(records: list[Any]) -> Counter[str | None]:
        return Counter(DeliveryStatus.from_json_bytes(r.value).outbound_event_id
                       for r in records)

    before = DUPLICATES.labels("delivery")._value.get()
    await write(first, first)  # the retry lands right after the lost acknowledgement
    service = DeliveryService(settings, senders=[WhatsAppSender(settings)])
    await service.start()
    try:
        await consume(settings.kafka_bootstrap, statuses_topic, 1, timeout=60,
                      where=lambda r: b"out-51" in r.value)
        await write(second)
        await consume(settings.kafka_bootstrap, statuses_topic, 1, timeout=60,
                      where=lambda r: b"out-52" in r.value)
    finally:
        await service.stop()
    assert DUPLICATES.labels("delivery")._value.get() - before == 1

    await write(third, first)  # delivery restarted; a late retry of the first reply
    restarted = DeliveryService(settings, senders=[WhatsAppSender(settings)])
    await restarted.start()
    try:
        await consume(settings.kafka_bootstrap, statuses_topic, 1, timeout=60,
                      where=lambda r: b"out-53" in r.value)
        await asyncio.sleep(2.0)  # the record after it is handled by now
    finally:
        await restarted.stop()
    everything = await consume_all(settings.kafka_bootstrap, statuses_topic)
    assert accepted(everything) == {first.event_id: 1, second.event_id: 1, third.event_id: 1}
    assert [r.json["text"]["body"] for r in graph.requests] == [
        "reply 51", "reply 52", "reply 53"], "each reply reached the customer once"
    assert DUPLICATES.labels("delivery")._value.get() - before == 2


class BuggySender(WhatsAppSender):
    """A connector with a bug: building one particular message raises."""

    def build(self, message: OutboundMessage, context: Any) -> Any:
        if message.text == "boom":
            raise KeyError("components")
        return super().build(message, context)


async def test_a_connector_bug_fails_one_message_and_delivery_goes_on(
        topics: Settings, graph: FakeGraph) -> None:
    """An error no sender foresaw fails that reply (status ``internal_error`` and a dead
    letter with the reason) and the next reply is delivered: delivery does not stop."""
    settings = graph_settings(topics, graph)
    customer = "972500000014"
    await wrote_lately(settings, customer)
    replies = [outbound(51, customer, text="boom"), outbound(52, customer)]
    await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                  [(m.conversation_id.encode(), m.to_json_bytes()) for m in replies])
    service = DeliveryService(settings, senders=[BuggySender(settings)])
    await service.start()
    try:
        records = await consume(settings.kafka_bootstrap, settings.topic("omniroute.delivery.v1"),
                                2, timeout=60)
        letters = await consume(settings.kafka_bootstrap, settings.topic("omniroute.dlq.v1"), 1,
                                timeout=30)
    finally:
        await service.stop()
    statuses = {s.outbound_event_id: s for s in map(DeliveryStatus.from_json_bytes,
                                                    (r.value for r in records))}
    assert statuses["out-51"].state is DeliveryState.FAILED
    assert statuses["out-51"].error_code == "internal_error"
    assert statuses["out-51"].error_message == "KeyError: 'components'"
    assert statuses["out-52"].state is DeliveryState.ACCEPTED
    [letter] = [DeadLetter.from_json_bytes(r.value) for r in letters]
    assert (letter.processor, letter.error_type) == ("delivery", "KeyError")
    assert OutboundMessage.from_json_bytes(b64decode(letter.original_b64)).event_id == "out-51"
    assert [r.json["text"]["body"] for r in graph.requests] == ["reply 52"]


async def test_a_delivery_loop_that_ends_on_an_error_ends_the_process(topics: Settings) -> None:
    """The process exits (to be restarted) rather than staying up and ready, delivering
    nothing."""
    service = DeliveryService(topics, senders=[])

    async def crashed() -> None:
        raise ValueError("a bug in the loop")

    service._tasks = [asyncio.create_task(crashed())]
    with pytest.raises(RuntimeError, match="a delivery loop ended") as raised:
        await asyncio.wait_for(service.run_until(asyncio.Event()), timeout=10)
    assert isinstance(raised.value.__cause__, ValueError)


async def test_a_survey_on_messenger_and_instagram_carries_its_buttons(
        topics: Settings, graph: FakeGraph) -> None:
    """The Japanese CSAT survey as automation writes it (five choices) reaches a Messenger
    and an Instagram customer with its buttons as quick replies, labelled in Japanese. A
    user run found both getting the question as bare text (Messenger and Instagram
    senders dropped ``choices``) and the LINE survey's Japanese question under English
    buttons."""
    settings = graph_settings(topics, graph)
    channels = {Channel.MESSENGER: ("PAGE1", "24000000001"),
                Channel.INSTAGRAM: ("17841400000000001", "9000000000001")}
    choices = [Choice(payload=p, title=t) for p, t in rating_choices("ja")]
    await produce(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"), [
        (b"k", inbound(psid, 3, channel, account).to_json_bytes())
        for channel, (account, psid) in channels.items()])
    surveys = [outbound(n, psid, channel, account, text="今回の対応はいかがでしたか",
                        choices=choices, automation="survey")
               for n, (channel, (account, psid)) in enumerate(channels.items(), start=71)]
    await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                  [(m.conversation_id.encode(), m.to_json_bytes()) for m in surveys])
    graph.window_open.update(psid for _, psid in channels.values())
    service = DeliveryService(settings, senders=[MessengerSender(settings),
                                                 InstagramSender(settings)])
    await service.start()
    try:
        records = await consume(settings.kafka_bootstrap, settings.topic("omniroute.delivery.v1"),
                                2, timeout=60,
                                where=lambda r: any(m.event_id.encode() in r.value
                                                    for m in surveys))
    finally:
        await service.stop()
    assert {DeliveryStatus.from_json_bytes(r.value).state for r in records} == {
        DeliveryState.ACCEPTED}
    sent = {r.json["recipient"]["id"]: r.json["message"] for r in graph.requests}
    for _, psid in channels.values():
        assert sent[psid]["text"] == "今回の対応はいかがでしたか"
        assert [(q["payload"], q["title"]) for q in sent[psid]["quick_replies"]] == [
            ("csat:1", "1 不満"), ("csat:2", "2 やや不満"), ("csat:3", "3 普通"),
            ("csat:4", "4 満足"), ("csat:5", "5 大変満足")]
