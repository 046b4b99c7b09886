"""Whether a message's statuses are already on ``omniroute.delivery.v1``.

Used by ``omniroute delivery`` and ``omniroute email-delivery``. The delivery
service commits an outbound message's offset after its statuses
are acknowledged. A process that dies (or loses the partition) between the two
leaves a message that was sent and reported but not committed, and whoever
reads the partition next would send it to the customer again. So before it
sends a message that may have been handled before (see
:class:`~omniroute.delivery.service.DeliveryService`), the service reads the
statuses published since that message was written and skips it when its own
``accepted`` or ``failed`` status is there.

The same search also keeps every message it finds reported in :class:`RecentIds`,
the ids the process handled lately. A message whose id is there is not sent
again. That matters because one message can be written to
``omniroute.outbound.v1`` twice with one event id. A producer that lost the
broker's acknowledgement answers its caller an error, the caller retries, and
both records land. Seen when the broker was SIGKILLed under load: the
gateway answered the agent app 503 for replies the broker had already written,
the app retried them, and six replies reached their customers twice.

What remains at least once is a crash between the provider's answer and the
statuses' acknowledgement: the provider sent it, nothing says so, and the
message is sent again (LINE de-duplicates those with its retry key). So is a
second record of one message more than :data:`SKEW_MS` after the first was
reported, read by a process that did not handle the first.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from prometheus_client import Counter
from pydantic import ValidationError

from omniroute.contract import DeliveryState, DeliveryStatus
from omniroute.contract.topics import DELIVERY
from omniroute.infra.topics import consumer_partitions
from omniroute.observability.logs import get_logger
from omniroute.settings import Settings

log = get_logger(__name__)
SKEW_MS = 5 * 60 * 1000
"""Statuses are searched from this long before the outbound record's timestamp (the
two timestamps come from different hosts' clocks)."""
RECENT_IDS = 200_000
"""Outbound event ids a delivery process remembers (about 25 MB at most)."""
Reporter = Callable[[DeliveryStatus], bool]
"""Whether a status is a final report, by this kind of process, of the outbound message
it names (``outbound_event_id``)."""


def by_delivery(status: DeliveryStatus) -> bool:
    """``omniroute delivery``'s ``accepted`` or ``failed`` status of the message."""
    return (status.outbound_event_id is not None
            and status.event_id.startswith(f"delivery:{status.outbound_event_id}:"[:200])
            and status.state in (DeliveryState.ACCEPTED, DeliveryState.FAILED))


CHECKS = Counter(
    "omniroute_delivery_resend_checks_total",
    "Outbound messages that may have been delivered before (first of a partition since it "
    "was assigned, or re-read after a failed commit), by whether their statuses were found "
    "(found: not sent again).",
    ["result"],
)
DUPLICATES = Counter(
    "omniroute_delivery_duplicates_total",
    "Outbound records not delivered because a record of the same message (event id) was "
    "delivered or found reported before: a producer wrote it twice.",
    ["component"],
)


class RecentIds:
    """The outbound event ids a delivery process handled or found reported lately; the oldest
    are forgotten beyond ``limit``."""

    def __init__(self, limit: int = RECENT_IDS) -> None:
        self.limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def repeated(self, event_id: str, component: str) -> bool:
        """Whether ``event_id`` was handled or found reported lately: a second record of the
        message, counted and logged (``component``: the delivering process)."""
        if event_id not in self._ids:
            return False
        DUPLICATES.labels(component).inc()
        log.warning("delivery_duplicate_skipped", component=component,
                    outbound_event_id=event_id)
        return True

    def add(self, *event_ids: str) -> None:
        """Remember ``event_ids`` as the newest."""
        for event_id in event_ids:
            self._ids[event_id] = None
            self._ids.move_to_end(event_id)
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)


class ReportedStatuses:
    """Searches ``omniroute.delivery.v1`` for the messages this kind of process reported."""

    def __init__(self, settings: Settings, reported_by: Reporter = by_delivery) -> None:
        self.topic = settings.topic(DELIVERY.name)
        self.reported_by = reported_by
        self.consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                         enable_auto_commit=False, group_id=None,
                                         isolation_level="read_committed",
                                         fetch_max_wait_ms=50)
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Connect (partitions are assigned at each search: the topic may grow)."""
        await self.consumer.start()

    async def stop(self) -> None:
        """Close the consumer."""
        await self.consumer.stop()

    async def reported(self, outbound_event_id: str, written_ms: int,
                       recent: RecentIds) -> bool:
        """Whether a delivery status of ``outbound_event_id`` (accepted or failed, published
        by this kind of process) is on the topic, searching from ``written_ms`` (the outbound
        record's timestamp) less :data:`SKEW_MS` to the end offsets as of now. Every message
        found reported on the way is added to ``recent``."""
        async with self._lock:
            started = time.perf_counter()
            try:
                found, read = await self._search(written_ms - SKEW_MS)
            finally:
                self.consumer.assign([])  # no fetch left waiting for the next search
        recent.add(*found)
        hit = outbound_event_id in found
        CHECKS.labels("found" if hit else "not_found").inc()
        log.info("delivery_resend_check", outbound_event_id=outbound_event_id, found=hit,
                 statuses_read=read, reported=len(found),
                 seconds=round(time.perf_counter() - started, 3))
        return hit

    async def _search(self, since_ms: int) -> tuple[list[str], int]:
        """The messages with a final status by this kind of process since ``since_ms``, and
        how many statuses were read."""
        partitions = await consumer_partitions(self.consumer, self.topic)
        ends = await self.consumer.end_offsets(partitions)
        starts = await self.consumer.offsets_for_times({tp: max(since_ms, 0)
                                                        for tp in partitions})
        begin = {tp: found.offset for tp, found in starts.items()
                 if found is not None and found.offset < ends[tp]}
        pending = {tp: ends[tp] for tp in begin}
        self.consumer.assign(list(pending))
        for tp, offset in begin.items():
            self.consumer.seek(tp, offset)
        found: list[str] = []
        read = 0
        while pending:
            batch = await self.consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= pending.get(tp, 0):
                        break
                    read += 1
                    reported = self._final(record.value)
                    if reported is not None:
                        found.append(reported)
            for tp in list(pending):
                if await self.consumer.position(tp) >= pending[tp]:
                    del pending[tp]
        return found, read

    def _final(self, value: bytes | None) -> str | None:
        """The outbound event id ``value`` is a final status of, by this kind of process."""
        if value is None or b"outbound_event_id" not in value:
            return None
        try:
            status = DeliveryStatus.from_json_bytes(value)
        except (ValidationError, ValueError):
            return None
        return status.outbound_event_id if self.reported_by(status) else None
