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

What remains at least once is a crash between the provider's answer and the
statuses' acknowledgement: the provider sent it, nothing says so, and the
message is sent again (LINE de-duplicates those with its retry key).
"""

from __future__ import annotations

import asyncio
import json
import time
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
Reporter = Callable[[DeliveryStatus, str], bool]
"""Whether a status is a final report, by this kind of process, of the outbound message
with the given event id."""


def by_delivery(status: DeliveryStatus, outbound_event_id: str) -> bool:
    """``omniroute delivery``'s ``accepted`` or ``failed`` status of the message."""
    return (status.outbound_event_id == outbound_event_id
            and status.event_id.startswith(f"delivery:{outbound_event_id}:"[:200])
            and status.state in (DeliveryState.ACCEPTED, DeliveryState.FAILED))


CHECKS = Counter(
    "omniroute_delivery_resend_checks_total",
    "Outbound messages that may have been delivered before (first of a partition since it "
    "was assigned, or re-read after a failed commit), by whether their statuses were found "
    "(found: not sent again).",
    ["result"],
)


class ReportedStatuses:
    """Searches ``omniroute.delivery.v1`` for this service's statuses of one message."""

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

    async def reported(self, outbound_event_id: str, written_ms: int) -> bool:
        """Whether a delivery status of ``outbound_event_id`` (accepted or failed, published
        by a delivery process) is on the topic, searching from ``written_ms`` (the outbound
        record's timestamp) less :data:`SKEW_MS` to the end offsets as of now."""
        async with self._lock:
            started = time.perf_counter()
            try:
                found, read = await self._search(outbound_event_id, written_ms - SKEW_MS)
            finally:
                self.consumer.assign([])  # no fetch left waiting for the next search
        CHECKS.labels("found" if found else "not_found").inc()
        log.info("delivery_resend_check", outbound_event_id=outbound_event_id, found=found,
                 statuses_read=read, seconds=round(time.perf_counter() - started, 3))
        return found

    async def _search(self, outbound_event_id: str, since_ms: int) -> tuple[bool, int]:
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
        marker = json.dumps(outbound_event_id)[1:-1].encode()
        read = 0
        while pending:
            batch = await self.consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= pending.get(tp, 0):
                        break
                    read += 1
                    if record.value is not None and marker in record.value \
                            and self._final(record.value, outbound_event_id):
                        return True, read
            for tp in list(pending):
                if await self.consumer.position(tp) >= pending[tp]:
                    del pending[tp]
        return False, read

    def _final(self, value: bytes, outbound_event_id: str) -> bool:
        """Whether ``value`` is a final status of ``outbound_event_id`` by this kind of
        process."""
        try:
            status = DeliveryStatus.from_json_bytes(value)
        except (ValidationError, ValueError):
            return False
        return self.reported_by(status, outbound_event_id)
