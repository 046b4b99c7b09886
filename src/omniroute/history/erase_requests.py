"""Asking the running worker to forget a customer, and waiting until it has.

The worker's faust tables (identity, conversations, automation, answer bot)
live in memory, restored from their changelogs. Tombstones written to a
changelog from outside do not reach a running worker: its next write of the
key puts the customer back. So erase *asks* the worker:

1. :func:`request_worker_erase` sends one :class:`EraseRequest` to **every
   partition** of ``omniroute.internal.erase-requests`` (co-partitioned with the
   worker's topics, so each partition's request is handled by the worker that
   owns that partition's state, in order with that partition's other input);
2. the worker (:mod:`omniroute.worker.erasure`) drops every table entry whose
   key or value names one of the customer's identifiers, writes a tombstone for
   each to the table's changelog, flushes its producer (the tombstones are
   durable), and only then answers an :class:`EraseDone` on
   ``omniroute.internal.erase-done``;
3. erase completes once every partition answered; otherwise it fails (the
   requests stay queued and are applied when the worker runs; the command can
   be run again).

A request names the customer's identifiers, so the request topic is compacted
and each request is tombstoned once answered (:func:`request_worker_erase`).
Answers carry counts only.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ConfigDict, Field

from omniroute.errors import BrokerError
from omniroute.infra.topics import INTERNAL_TOPICS, create_topics
from omniroute.settings import Settings

ERASE_REQUESTS = "omniroute.internal.erase-requests"
"""Erase requests, one per partition (key ``{request id}/{partition}``); compacted
(declared in :data:`omniroute.infra.topics.INTERNAL_TOPICS`, so the worker has it)."""
ERASE_DONE = "omniroute.internal.erase-done"
"""The worker's answers (key request id): which partition, how many entries per table."""


ANONYMOUS_PREFIX = "erased-"
"""An erased customer's conversations, events and ratings keep ``erased-{random}`` as
their customer id (:func:`omniroute.history.privacy.erase_customer`)."""
ERASED_REASON = "customer erased"
"""Why the worker resolved an erased customer's open conversation and asked the router to
stop routing it: the reason on the ``resolved`` event, and on the router's ``revoked`` to
the agent who held it (her console says so)."""
ERASE_EVENT_PREFIX = "erase:"
"""The ids of the events and requests an erase makes (``erase:{request}:{conversation}:…``):
the worker does not read its own ``resolved`` back as the router's news."""


class EraseRequest(BaseModel):
    """Forget every table entry naming any of ``needles`` (ids, addresses, raw senders)."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    needles: list[str] = Field(min_length=1)


class EraseDone(BaseModel):
    """A worker's answer for one partition: entries removed, per table (counts only)."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    partition: int
    removed: dict[str, int] = Field(default_factory=dict)


def needle_pattern(needles: list[str]) -> re.Pattern[str] | None:
    """A pattern finding any of ``needles`` as a whole token: not preceded or followed by
    a letter or digit, so Telegram chat ``777001`` does not match ``7770012`` (another
    customer's state must never be erased); None when there is nothing to find."""
    wanted = sorted({n for n in needles if n}, key=len, reverse=True)
    if not wanted:
        return None
    return re.compile("(?<![0-9A-Za-z])(?:" + "|".join(map(re.escape, wanted))
                      + ")(?![0-9A-Za-z])")


def names_any(text: str, needles: list[str]) -> bool:
    """Whether ``text`` names any of ``needles`` as a whole token (see :func:`needle_pattern`)."""
    pattern = needle_pattern(needles)
    return bool(pattern and pattern.search(text))


async def _partitions(settings: Settings, topic: str) -> int:
    """The partition count of ``topic`` (created, sized like inbound, when missing)."""
    from omniroute.history.personal_retention import set_topic_configs
    from omniroute.history.topic_erasure import owned_topics

    counts, _ = await owned_topics(settings)
    inbound = counts.get(settings.topic("omniroute.inbound.v1"), settings.kafka_partitions)
    spec = next(s for s in INTERNAL_TOPICS if s.name == topic)
    if settings.topic(topic) not in counts:
        await create_topics(settings, [spec], partitions=inbound)
    else:  # faust may have declared it (without our configs) when the worker started first
        await set_topic_configs(settings, {topic: spec.configs})
    return counts.get(settings.topic(topic), inbound)


async def request_worker_erase(settings: Settings, needles: list[str], *,
                               timeout: float = 120.0) -> dict[int, dict[str, int]]:
    """Have the running worker drop ``needles`` from its tables; partition → removed counts.

    Raises :class:`BrokerError` when some partition did not answer within ``timeout``
    seconds (is ``omniroute worker`` running?); its request stays queued.
    """
    partitions = await _partitions(settings, ERASE_REQUESTS)
    done_partitions = await _partitions(settings, ERASE_DONE)
    request_id = "erq_" + uuid.uuid4().hex
    done_topic = settings.topic(ERASE_DONE)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    answers: dict[int, dict[str, int]] = {}
    try:
        await consumer.start()
        await producer.start()
        done = [TopicPartition(done_topic, p) for p in range(done_partitions)]
        consumer.assign(done)
        await consumer.seek_to_end(*done)
        for tp in done:
            await consumer.position(tp)  # pin "the end" before the requests go out
        body = EraseRequest(request_id=request_id, needles=sorted(set(needles)))
        for p in range(partitions):
            await producer.send_and_wait(settings.topic(ERASE_REQUESTS),
                                         body.model_dump_json().encode(),
                                         key=f"{request_id}/{p}".encode(), partition=p)
        deadline = time.monotonic() + timeout
        while len(answers) < partitions and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    answer = _answer(record.value, request_id)
                    if answer is not None:
                        answers[answer.partition] = answer.removed
        await _forget_requests(producer, settings, request_id, partitions, answers)
    except KafkaError as exc:
        raise BrokerError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}") from exc
    finally:
        await asyncio.gather(consumer.stop(), producer.stop())
    missing = sorted(set(range(partitions)) - set(answers))
    if missing:
        raise BrokerError(
            f"the worker did not confirm the erase of partitions {missing} within "
            f"{timeout:.0f}s (is `omniroute worker` running?); the requests stay queued "
            "and are applied when it runs")
    return answers


def _answer(value: bytes | None, request_id: str) -> EraseDone | None:
    try:
        answer = EraseDone.model_validate_json(value or b"")
    except ValueError:
        return None
    return answer if answer.request_id == request_id else None


async def _forget_requests(producer: AIOKafkaProducer, settings: Settings, request_id: str,
                           partitions: int, answered: dict[int, dict[str, int]]) -> None:
    """Tombstone the answered requests (they name the customer); compaction removes them."""
    for p in sorted(answered):
        await producer.send_and_wait(settings.topic(ERASE_REQUESTS), None,
                                     key=f"{request_id}/{p}".encode(), partition=p)
