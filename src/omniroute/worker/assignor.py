"""The batch worker's partition assignor: whole partition numbers per member, across topics.

Every input and table of partition number *p* must be owned by one process
(tables written from several topics' records are consistent only then), so
this assignor deals partition *numbers* to members, and gives each member every
subscribed topic's partition of the numbers it holds. aiokafka's default
round-robin assignor deals topic-partitions one by one and splits a number
across members (faust ships its own assignor for the same reason).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)

log = logging.getLogger(__name__)


def deal(numbers: Iterable[int], members: Iterable[str]) -> dict[str, list[int]]:
    """Partition numbers per member: contiguous-free round robin over sorted member ids."""
    ids = sorted(members)
    dealt: dict[str, list[int]] = {member: [] for member in ids}
    for index, number in enumerate(sorted(numbers)):
        dealt[ids[index % len(ids)]].append(number)
    return dealt


class CopartitionedAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
    """Assigns each member whole partition numbers of every subscribed topic."""

    name = "omniroute-copartitioned"
    version = 0

    @classmethod
    def assign(cls, cluster: ClusterMetadata,
               members: Mapping[str, ConsumerProtocolMemberMetadata],
               ) -> dict[str, ConsumerProtocolMemberAssignment]:
        topics: set[str] = set()
        for metadata in members.values():
            topics.update(metadata.subscription)
        numbers: set[int] = set()
        counts: dict[str, int] = {}
        for topic in sorted(topics):
            partitions = cluster.partitions_for_topic(topic) or set()
            counts[topic] = len(partitions)
            numbers.update(partitions)
        if len(set(counts.values())) > 1:  # the workers refuse to start; never split a number
            log.warning("topics are not co-partitioned: %s", counts)
        dealt = deal(numbers, members)
        assignment: dict[str, ConsumerProtocolMemberAssignment] = {}
        for member, metadata in members.items():
            mine = set(dealt[member])
            per_topic = [(topic, sorted(mine & (cluster.partitions_for_topic(topic) or set())))
                         for topic in sorted(metadata.subscription)]
            assignment[member] = ConsumerProtocolMemberAssignment(
                cls.version, [(topic, parts) for topic, parts in per_topic if parts], b"")
        return assignment

    @classmethod
    def metadata(cls, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        return ConsumerProtocolMemberMetadata(cls.version, list(topics), b"")

    @classmethod
    def on_assignment(cls, assignment: ConsumerProtocolMemberAssignment) -> None:
        """Nothing kept between assignments."""
