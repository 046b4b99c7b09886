"""Erasing a customer from the topics omniroute owns: tombstones where a topic is compacted.

:func:`erase_from_topics` reads every topic of the deployment (``<namespace>omniroute…``:
the public topics, the internal ones and faust's table changelogs) from the
start to its current end and looks for the customer's identifiers (the id, every
address, raw and normalized) in each record's key and value, dead letters'
base64 originals decoded. Then:

- on a compacted topic (declared ``cleanup.policy=compact``, or a faust
  ``…-changelog``), every key whose *latest* value names the customer gets a
  tombstone (a null value on the key's partition): faust drops the key from its
  table on restore, the router rebuilds a pool whose snapshot went from its
  pool stream, and compaction removes the older values;
- an older value superseded by one that does not name the customer is left to
  compaction (``superseded``);
- an append-only topic cannot be rewritten: what it still holds is *reported*
  (``pending``) with the time it is gone by (``gone_by``: the newest such record's
  time plus the topic's segment and retention times, bounded by
  :mod:`.personal_retention`).

The scan reads whole topics: erase is rare, and completeness matters more.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from omniroute.history.personal_retention import describe, gone_by
from omniroute.history.privacy import compacted_topics
from omniroute.settings import Settings


@dataclass
class TopicErasure:
    """What the scan found and did, per topic (counts only: no content)."""

    tombstoned: dict[str, int] = field(default_factory=dict)
    superseded: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    gone_by: dict[str, str] = field(default_factory=dict)
    """Append-only topic → ISO time by which Kafka has deleted what it still holds."""
    scanned: int = 0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, for the audit log and the command's output."""
        return {"tombstoned": self.tombstoned, "superseded": self.superseded,
                "pending_retention": self.pending, "gone_by": self.gone_by,
                "records_scanned": self.scanned}


def _text(key: bytes | None, value: bytes | None) -> str:
    """The record as text, with a dead letter's base64 original decoded."""
    text = (key or b"").decode("utf-8", "replace") + "\n" + (value or b"").decode(
        "utf-8", "replace")
    if value and b"original_b64" in value:
        try:
            data = json.loads(value)
            for name in ("original_b64", "source_key_b64"):
                if isinstance(data.get(name), str):
                    text += "\n" + base64.b64decode(data[name]).decode("utf-8", "replace")
        except (ValueError, TypeError, AttributeError):
            pass
    return text


def mentions(key: bytes | None, value: bytes | None, needles: list[str]) -> bool:
    """True when the record names any of ``needles``."""
    text = _text(key, value)
    return any(n in text for n in needles)


async def owned_topics(settings: Settings) -> tuple[dict[str, int], set[str]]:
    """The deployment's topics with their partition counts, and which are compacted."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics()
                       if t.startswith(settings.topic("omniroute")))
        described = await admin.describe_topics(names) if names else []
    finally:
        await admin.close()
    partitions = {d["topic"]: len(d["partitions"]) for d in described}
    declared = {settings.topic(t) for t in compacted_topics()}
    return partitions, {t for t in partitions if t in declared or t.endswith("-changelog")}


async def erase_from_topics(settings: Settings, needles: list[str]) -> TopicErasure:
    """Scan every owned topic for ``needles``; tombstone compacted keys (see the docstring)."""
    report = TopicErasure()
    needles = [n for n in needles if n]
    topics, compacted = await owned_topics(settings)
    if not topics or not needles:
        return report
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    latest: dict[tuple[str, int, bytes], bool] = {}
    counts: dict[str, int] = defaultdict(int)
    newest: dict[str, int] = {}
    try:
        partitions = [TopicPartition(t, p) for t, count in topics.items()
                      for p in range(count)]
        ends = await consumer.end_offsets(partitions)
        todo = {tp for tp in partitions if ends[tp] > 0}
        if todo:
            consumer.assign(list(todo))
            await consumer.seek_to_beginning(*todo)
        while todo:
            batch = await consumer.getmany(*todo, timeout_ms=1000, max_records=5000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    report.scanned += 1
                    hit = mentions(record.key, record.value, needles)
                    if tp.topic in compacted and record.key is not None:
                        hit = hit and record.value is not None  # a tombstone erases already
                        previous = latest.get((tp.topic, tp.partition, record.key))
                        if previous and not hit:
                            report.superseded[tp.topic] = report.superseded.get(tp.topic, 0) + 1
                        latest[(tp.topic, tp.partition, record.key)] = hit
                    elif hit:
                        counts[tp.topic] += 1
                        newest[tp.topic] = max(newest.get(tp.topic, 0), record.timestamp)
            for tp in list(todo):
                if await consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
    finally:
        await consumer.stop()
    report.pending = dict(counts)
    configs = await describe(settings, sorted(newest))
    for topic, stamp in newest.items():
        at = datetime.fromtimestamp(stamp / 1000, UTC)
        until = gone_by(at, configs.get(topic, {}))
        report.gone_by[topic] = (until.isoformat(timespec="seconds") if until else
                                 "never: the topic keeps records forever (docs/privacy.md)")
    doomed = [(topic, partition, key) for (topic, partition, key), hit in latest.items() if hit]
    if doomed:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for topic, partition, key in doomed:
                await producer.send_and_wait(topic, None, key=key, partition=partition)
                report.tombstoned[topic] = report.tombstoned.get(topic, 0) + 1
        finally:
            await producer.stop()
    return report
