"""Fan-out of ``omniroute.assignments.v1`` to the agents connected to this gateway.

Every gateway replica reads every partition (no consumer group: each replica
must see every agent's events) from the end, and hands each event to the
WebSocket queues of its agent and of connected supervisors. What happened
before a socket connected comes from history (pending offers) instead.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict

from aiokafka import AIOKafkaConsumer
from prometheus_client import Counter, Gauge

from omniroute.contract import AssignmentEvent
from omniroute.observability.logs import get_logger
from omniroute.settings import Settings

SUPERVISORS = "*"
RECENT_OFFERS = 10_000

FANNED = Counter("omniroute_gateway_assignments_fanned_out_total",
                 "Assignment events delivered to connected WebSockets.")
SOCKETS = Gauge("omniroute_gateway_websockets", "Open agent WebSockets.")

log = get_logger(__name__)


class Fanout:
    """Routes assignment events to per-socket queues by agent id."""

    def __init__(self) -> None:
        self.listeners: dict[str, set[asyncio.Queue[AssignmentEvent]]] = defaultdict(set)
        self.recent_offers: OrderedDict[str, str] = OrderedDict()
        """Offer id -> agent of the latest offers seen live (history may lag them)."""

    def subscribe(self, key: str) -> asyncio.Queue[AssignmentEvent]:
        """A queue receiving the events of agent ``key`` (``*``: every agent)."""
        queue: asyncio.Queue[AssignmentEvent] = asyncio.Queue(maxsize=1000)
        self.listeners[key].add(queue)
        SOCKETS.inc()
        return queue

    def unsubscribe(self, key: str, queue: asyncio.Queue[AssignmentEvent]) -> None:
        """Stop delivering to ``queue``."""
        self.listeners[key].discard(queue)
        SOCKETS.dec()

    def publish(self, event: AssignmentEvent) -> None:
        """Deliver one event to its agent's sockets and to supervisors'."""
        if event.offer_id and event.kind.value == "offered":
            self.recent_offers[event.offer_id] = event.agent_id
            while len(self.recent_offers) > RECENT_OFFERS:
                self.recent_offers.popitem(last=False)
        for key in (event.agent_id, SUPERVISORS):
            for queue in self.listeners.get(key, ()):
                if queue.full():  # a stalled socket loses live events, not history
                    continue
                queue.put_nowait(event)
                FANNED.inc()


async def consume_assignments(settings: Settings, fanout: Fanout,
                              started: asyncio.Event) -> None:
    """Read the assignments topic from its end and publish every event (runs until cancelled)."""
    topic = settings.topic("omniroute.assignments.v1")
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="latest")
    await consumer.start()
    try:
        # Without a group every partition is assigned once metadata is in; aiokafka has no
        # event for that moment, so poll for it.
        while not consumer.assignment():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        # Resolve the end positions now, so events written after start-up are never skipped.
        for tp in consumer.assignment():
            await consumer.position(tp)
        started.set()
        async for record in consumer:
            try:
                fanout.publish(AssignmentEvent.from_json_bytes(record.value or b""))
            except ValueError as exc:
                log.warning("unreadable assignment event skipped", offset=record.offset,
                            error=str(exc))
    finally:
        await consumer.stop()
