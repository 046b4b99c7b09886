"""The faust worker's consumer group, which the batch engine takes over from.

A deployment that ran ``omniroute worker --engine faust`` has committed offsets
in the faust app's group (:data:`~omniroute.worker.app.APP_ID` in the namespace)
and none in the batch group. Both engines consume the same topics (inbound,
identity links, the identity graph, the internal customers topic, conversations,
outbound, agent events, the automation topic, erasure requests; faust's group
commits no other topic) and share the table changelogs, so each input
topic-partition's faust commit means "processed up to here" for that very
topic-partition, intermediate topics included: a record of
``omniroute.internal.customers`` below faust's commit there was threaded by
faust; one above it was written by faust's identity stage and is threaded by
the batch engine. faust commits at least once (after flushing its outputs and
changelogs), so starting there re-reads at most what a faust restart would.

:func:`start_offsets` is that rule; :class:`LegacyGroup` reads the group, and
makes the batch engine wait while faust workers are still members of it (two
engines processing the same records would double every effect). Once the batch
group has its own commit of every input the faust group committed, nothing can
adopt from the faust group any more, and :meth:`LegacyGroup.retire` deletes it:
left in place, its lag (frozen at the switch, growing with every record) would
page whoever watches consumer lag for the 7 days Kafka keeps an empty group.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import DeleteGroupsRequest

from omniroute.errors import BrokerError
from omniroute.observability.logs import get_logger
from omniroute.observability.pipeline import LEGACY_GROUP_ACTIVE
from omniroute.settings import Settings
from omniroute.worker.app import APP_ID

IDLE_STATES = frozenset({"Empty", "Dead"})
"""Group states without members (``Dead``: the group does not exist)."""
WAIT_S = 5.0
"""Between two looks at a group that still has members."""
FRESH_S = 1.0
"""How long one look saying "idle" answers every claim asking."""
COMPONENT = "worker"
NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND = 68, 69
"""DeleteGroups error codes: the group has members again; it is already gone."""

log = get_logger("omniroute.worker")


def start_offsets(own: Mapping[TopicPartition, int | None],
                  legacy: Mapping[TopicPartition, int]
                  ) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """Where each input starts, and which of those offsets were adopted from ``legacy``.

    The batch group's own commit wins; without one, the legacy group's commit of
    the same topic-partition; without either, 0 (the earliest retained record).
    """
    starts: dict[TopicPartition, int] = {}
    adopted: dict[TopicPartition, int] = {}
    for tp, offset in own.items():
        if offset is not None:
            starts[tp] = offset
        elif legacy.get(tp) is not None:
            starts[tp] = adopted[tp] = legacy[tp]
        else:
            starts[tp] = 0
    return starts, adopted


@dataclass(frozen=True, slots=True)
class GroupState:
    """A consumer group's state as the coordinator reports it."""

    state: str
    members: int

    @property
    def idle(self) -> bool:
        """No member consumes for the group."""
        return self.state in IDLE_STATES and self.members == 0


class LegacyGroup:
    """The faust worker's group: its state and its committed offsets."""

    def __init__(self, settings: Settings) -> None:
        self.group = settings.topic(APP_ID)
        self.bootstrap = settings.kafka_bootstrap
        self._admin: AIOKafkaAdminClient | None = None
        self.active = False
        """True while the last look found members (``/readyz`` and the gauge say so)."""
        self._idle_at = float("-inf")
        self._lock = asyncio.Lock()
        self._gauge = LEGACY_GROUP_ACTIVE.labels(COMPONENT)
        self._gauge.set(0)

    async def start(self) -> None:
        """Connect (inside the event loop the engine runs on)."""
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap,
                                          request_timeout_ms=15000)
        await self._admin.start()

    async def stop(self) -> None:
        """Disconnect."""
        if self._admin is not None:
            await self._admin.close()
            self._admin = None

    @property
    def admin(self) -> AIOKafkaAdminClient:
        """The started admin client."""
        if self._admin is None:
            raise BrokerError("the legacy group's admin client is not started")
        return self._admin

    async def state(self) -> GroupState:
        """The group's state and member count now."""
        responses = await self.admin.describe_consumer_groups([self.group])
        for response in responses:
            for error_code, group, state, _type, _protocol, members, *_ in response.groups:
                if group == self.group:
                    if error_code:
                        raise BrokerError(f"cannot describe group {group}: error {error_code}")
                    return GroupState(state, len(members))
        return GroupState("Dead", 0)

    async def wait_idle(self) -> None:
        """Return once the group has no members; log and wait while it has.

        Concurrent claims share one look (:data:`FRESH_S`).
        """
        async with self._lock:
            while time.monotonic() - self._idle_at > FRESH_S:
                found = await self.check()
                if found.idle:
                    self._idle_at = time.monotonic()
                    return
                await asyncio.sleep(WAIT_S)

    async def check(self) -> GroupState:
        """Look once (the running engine's watch); ``active`` and the gauge follow."""
        found = await self.state()
        self._mark(found)
        return found

    def _mark(self, found: GroupState) -> None:
        if not found.idle:
            log.error("worker.legacy_group_active", group=self.group, state=found.state,
                      members=found.members, retry_in=WAIT_S,
                      hint="stop every `omniroute worker --engine faust` process; "
                           "the batch engine starts where it committed")
        elif self.active:
            log.info("worker.legacy_group_idle", group=self.group, state=found.state)
        self.active = not found.idle
        self._gauge.set(1 if self.active else 0)

    async def committed(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The group's committed offsets of ``tps`` (those it has)."""
        if not tps:
            return {}
        offsets = await self.admin.list_consumer_group_offsets(self.group, partitions=tps)
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    async def readiness(self) -> None:
        """A ``/readyz`` check: fails while the batch engine waits for faust workers."""
        if self.active:
            raise BrokerError(f"the faust worker group {self.group} still has members")

    async def retire(self, successor: str) -> bool:
        """Delete the group if it is idle and ``successor`` has committed every input it did.

        True when the group is gone (deleted now, or it never existed). Kafka refuses to
        delete a group with members (a faust worker that joined since the look): False.
        """
        found = await self.state()
        if found.state == "Dead":
            return True  # never existed, or already gone
        if not found.idle:
            return False
        theirs = await self.admin.list_consumer_group_offsets(self.group)
        inputs = [tp for tp, meta in theirs.items() if meta.offset >= 0]
        if inputs:
            ours = await self.admin.list_consumer_group_offsets(successor, partitions=inputs)
            if any(tp not in ours or ours[tp].offset < 0 for tp in inputs):
                return False  # a partition still to be claimed adopts from this group
        node = await self.admin.find_coordinator(self.group)
        response = await self.admin._send_request_to_node(  # no public DeleteGroups
            node, DeleteGroupsRequest([self.group]))
        for group, error_code in response.results:
            if group != self.group or error_code == GROUP_ID_NOT_FOUND:
                continue
            if error_code == NON_EMPTY_GROUP:
                return False
            if error_code:
                raise BrokerError(f"cannot delete group {group}: error {error_code}")
            log.info("worker.legacy_group_retired", group=self.group, successor=successor,
                     inputs=len(inputs))
        return True
