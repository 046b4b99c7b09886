"""Erase that erases (issue 16): every table and every topic scanned after the erase.

A customer with SMS, WhatsApp, email and web chat history, a sent email, a dead
letter (table and topic), processed-event marks, identity state in a faust
changelog and a routing snapshot naming them; another customer beside them.
After ``erase_customer`` + ``erase_from_topics``: no table holds any of the
customer's identifiers or texts; no compacted topic's latest value does; what
append-only topics still hold is exactly what the erase reported as left to
retention. The other customer is untouched everywhere.
"""

from __future__ import annotations

import json

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from harness.kafka import produce
from integration.history.factories import added, inbound
from integration.history.test_privacy import SECRETS, customer_history, occurrences
from omniroute.contract import Channel, DeadLetter
from omniroute.history.privacy import erase_customer
from omniroute.history.store import write_batch
from omniroute.history.topic_erasure import erase_from_topics, mentions, owned_topics
from omniroute.settings import Settings

VISITOR = "v_0123456789abcdef0123456789abcdef"
EMAIL = "ada.lovelace@example.com"
OTHER = "+14155550199"


async def every_record(settings: Settings) -> dict[str, list[tuple[int, bytes | None,
                                                                   bytes | None]]]:
    """Every record of every owned topic: topic -> [(partition, key, value)]."""
    counts, _ = await owned_topics(settings)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                enable_auto_commit=False)
    await consumer.start()
    found: dict[str, list[tuple[int, bytes | None, bytes | None]]] = {n: [] for n in counts}
    try:
        partitions = [TopicPartition(t, p) for t, n in counts.items() for p in range(n)]
        ends = await consumer.end_offsets(partitions)
        todo = {tp for tp in partitions if ends[tp] > 0}
        if todo:
            consumer.assign(list(todo))
            await consumer.seek_to_beginning(*todo)
        while todo:
            for tp, records in (await consumer.getmany(*todo, timeout_ms=1000)).items():
                found[tp.topic].extend((tp.partition, r.key, r.value) for r in records
                                       if r.offset < ends[tp])
            todo = {tp for tp in todo if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return found


class TestEraseEverywhere:
    async def test_no_table_or_topic_keeps_the_customer(self, topics: Settings,
                                                        database_url: str) -> None:
        settings = topics
        web = inbound(4, text="hello from the web", channel=Channel.WEBCHAT, sender=VISITOR)
        mail = inbound(5, text="my email about 4711", channel=Channel.EMAIL, sender=EMAIL)
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [*customer_history(), ("inbound", web), ("inbound", mail),  # type: ignore[list-item]
                                     ("conversations", added(web, conversation="c1",
                                                             customer="cust-1")),
                                     ("conversations", added(mail, conversation="c1",
                                                             customer="cust-1"))])
            await conn.execute(
                """INSERT INTO webchat_messages (workspace, event_id, address, direction, body,
                   created_at, conversation_id) VALUES ('default', $1, $2, 'visitor', $3, now(),
                   'c1')""", web.event_id, VISITOR, json.dumps({"text": web.text}))
            await conn.execute(
                """INSERT INTO email_sent_messages VALUES ('<r1@acme.test>', 'default', 'c1',
                   'out-1', $1, now())""", EMAIL)
            await conn.execute(
                """INSERT INTO dead_letters VALUES ('dl-1', now(), 'identity', 'inbound', 0, 7,
                   'ValueError', $1)""", f"cannot parse the sender {SECRETS[5]}")
            await conn.execute("INSERT INTO processed_events (topic, event_id, occurred_at) "
                               "VALUES ('inbound', $1, now())", "webchat:" + "d" * 40)
            sms = customer_history()[1][1]
            dead = DeadLetter.for_record(processor="identity", topic="inbound", partition=0,
                                         offset=7, key=b"+14155550100",
                                         value=sms.to_json_bytes(),  # type: ignore[attr-defined]
                                         error="boom")
            await produce(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"), [
                (b"+14155550100", sms.to_json_bytes()),  # type: ignore[attr-defined]
                (OTHER.encode(), customer_history()[-2][1].to_json_bytes())])  # type: ignore[attr-defined]
            await produce(settings.kafka_bootstrap, settings.topic("omniroute.dlq.v1"),
                          [(b"dl-1", dead.to_json_bytes())])
            changelog = settings.topic("omniroute-worker-identity-addresses-changelog")
            admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
            await admin.start()
            await admin.create_topics([NewTopic(changelog, 1, 1,
                                                topic_configs={"cleanup.policy": "compact"})])
            await admin.close()
            await produce(settings.kafka_bootstrap, changelog, [
                (b"default/tel:+14155550100", b'{"owner": "cust-1"}'),
                (f"default/mailto:{EMAIL}".encode(), b'{"owner": "cust-1"}'),
                (f"default/tel:{OTHER}".encode(), b'{"owner": "cust-2"}')])
            await produce(settings.kafka_bootstrap,
                          settings.topic("omniroute.internal.routing-snapshots"), [
                              (b"pool-a", b'{"waiting": [{"customer_id": "cust-1"}]}'),
                              (b"pool-b", b'{"waiting": [{"customer_id": "cust-2"}]}')])

            detail = await erase_customer(conn, "cust-1", actor="dpo")
            assert detail is not None
            needles = detail["identifiers"]
            assert {"cust-1", "+14155550100", EMAIL, VISITOR} <= set(needles)
            report = await erase_from_topics(settings, needles)

            # every table
            for needle in [*needles, *SECRETS, web.text, mail.text]:
                assert await occurrences(conn, needle) == [], needle
            assert await occurrences(conn, "someone else entirely")
            assert detail["counts"]["webchat_messages"] == 1
            assert detail["counts"]["sent_emails"] == 1
            assert detail["counts"]["dead_letters"] == 1
        finally:
            await conn.close()

        # every topic
        _, compacted = await owned_topics(settings)
        records = await every_record(settings)
        assert changelog in compacted and settings.topic(
            "omniroute.internal.routing-snapshots") in compacted
        left: dict[str, int] = {}
        for topic, found in records.items():
            if topic in compacted:
                latest: dict[tuple[int, bytes | None], bytes | None] = {}
                for partition, key, value in found:
                    latest[(partition, key)] = value
                for (_, key), value in latest.items():
                    assert value is None or not mentions(key, value, needles), (topic, key)
                survivors = {k for (_, k), v in latest.items() if v is not None}
                if topic == changelog:
                    assert survivors == {f"default/tel:{OTHER}".encode()}
            else:
                hits = sum(mentions(k, v, needles) for _, k, v in found)
                if hits:
                    left[topic] = hits
        assert report.tombstoned == {changelog: 2, settings.topic(
            "omniroute.internal.routing-snapshots"): 1}
        assert left == report.pending  # what stays in append-only logs is reported, exactly
        assert set(left) == {settings.topic("omniroute.inbound.v1"),
                             settings.topic("omniroute.dlq.v1")}
