"""What a load run saw on the public topics, and the report's arithmetic.

An :class:`Observer` reads, with ``read_committed`` from the offsets they had
when the run began, the topics where the pipeline's milestones appear:

- ``omniroute.conversations.v1``: ``message_added`` (a message threaded, found by
  its token), ``resolved``;
- ``omniroute.internal.routing-pool-events`` (``route`` inputs the worker wrote
  straight into a pool) and ``omniroute.internal.routing-requests`` (requests
  whose pool the router chooses): a conversation asked for an agent;
- ``omniroute.assignments.v1``: the router offered or assigned it.

Record timestamps are the broker's (this machine's clock, like the senders'),
so "acknowledged by the ingress → threaded" and "routing request → offer or
assignment" are measured without touching the processes under load.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer

from omniroute.infra.topics import consumer_partitions

TOKEN = re.compile(r"\bsoak (\S+) ")
CONVERSATIONS = "omniroute.conversations.v1"
REQUESTS = "omniroute.internal.routing-requests"
POOLS = "omniroute.internal.routing-pool-events"
ASSIGNMENTS = "omniroute.assignments.v1"


def percentiles(values: list[float], points: tuple[float, ...] = (50, 95, 99)) -> dict[str, float]:
    """Nearest-rank percentiles (and max) of ``values``; empty when there are none."""
    if not values:
        return {}
    ordered = sorted(values)
    found = {f"p{p:g}": ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]
             for p in points}
    found["max"] = ordered[-1]
    return found


@dataclass
class Seen:
    """Milestones by key, in broker time (seconds since the epoch)."""

    threaded: dict[str, float] = field(default_factory=dict)
    """token → first message_added."""
    requested: dict[str, float] = field(default_factory=dict)
    """conversation → first routing request of the run."""
    routed: dict[str, float] = field(default_factory=dict)
    """conversation → first offer or assignment after its request."""
    router_latencies: list[float] = field(default_factory=list)
    resolved: int = 0

    def fold(self, topic: str, timestamp_ms: int, value: bytes) -> None:
        """Apply one record of one of the observed topics (pure)."""
        at = timestamp_ms / 1000
        event: dict[str, Any] = json.loads(value)
        if topic.endswith(CONVERSATIONS):
            kind = event.get("kind")
            if kind == "message_added":
                match = TOKEN.search((event.get("message") or {}).get("text") or "")
                if match:
                    self.threaded.setdefault(match.group(1), at)
            elif kind == "resolved":
                self.resolved += 1
        elif topic.endswith(REQUESTS):
            self.requested.setdefault(event["conversation_id"], at)
        elif topic.endswith(POOLS):
            if event.get("t") == "route" and not str(event.get("id")).startswith("fwd:"):
                self.requested.setdefault(event["body"]["work_id"], at)  # not forwarded
        elif topic.endswith(ASSIGNMENTS) and event.get("kind") in ("offered", "assigned"):
            conversation = event.get("conversation_id")
            asked = self.requested.get(conversation or "")
            if conversation and asked is not None and conversation not in self.routed:
                self.routed[conversation] = at
                self.router_latencies.append(max(0.0, at - asked))


class Observer:
    """Follows the observed topics of one namespace from where they are now."""

    def __init__(self, bootstrap: str, topic: Any) -> None:
        self.topics = [topic(CONVERSATIONS), topic(REQUESTS), topic(POOLS),
                       topic(ASSIGNMENTS)]
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                         enable_auto_commit=False, fetch_max_wait_ms=100,
                                         isolation_level="read_committed")
        self.seen = Seen()
        self.started: dict[str, int] = {}
        """Records per observed topic when the run began."""

    async def start(self) -> None:
        """Connect and position at the topics' current ends."""
        await self.consumer.start()
        partitions = await consumer_partitions(self.consumer, *self.topics)
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)

    async def run(self, stop: asyncio.Event) -> None:
        """Fold records until ``stop``."""
        while not stop.is_set():
            batch = await self.consumer.getmany(timeout_ms=200, max_records=2000)
            for tp, records in batch.items():
                for record in records:
                    if record.value:
                        self.seen.fold(tp.topic, record.timestamp, record.value)

    async def stop(self) -> None:
        """Disconnect."""
        await self.consumer.stop()
