"""The batch engine's per-record savings change nothing: partitions, metrics, log context."""

from __future__ import annotations

import structlog
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import REGISTRY

from omniroute.observability.logs import Binding, bind, unbind
from omniroute.worker import metrics
from omniroute.worker.partitioner import KeyHashes


class TestKeyHashes:
    """The engine's producers' partitioner."""

    def test_it_picks_the_default_partitioner_s_partition_for_every_key(self) -> None:
        """murmur2 of the key, 31 bits, modulo the count: remembered or not, and after the
        memory starts over."""
        hashes = KeyHashes(limit=50)
        default = DefaultPartitioner()
        keys = [f"cnv_{n:024x}".encode() for n in range(120)] + [b"", b"\xff\x00", b"x" * 300]
        for count in (1, 3, 6, 7, 64):
            partitions = list(range(count))
            for key in keys * 2:
                assert hashes(key, partitions, partitions) == default(key, partitions, partitions)
        assert len(hashes.hashes) <= 50

    def test_no_key_goes_to_an_available_partition(self) -> None:
        """As aiokafka: a random available one."""
        assert {KeyHashes()(None, [0, 1, 2], [2]) for _ in range(20)} == {2}


def messages_total(topic: str, direction: str) -> float:
    value = REGISTRY.get_sample_value("omniroute_messages_total", {
        "component": "worker", "topic": topic, "channel": "sms", "direction": direction})
    return value or 0.0


class TestTally:
    """A batch's records, counted once per batch."""

    def test_publish_adds_what_was_counted_once(self) -> None:
        """Nothing reaches the counter before :meth:`publish`, everything after, once."""
        tally = metrics.Tally()
        before_in = messages_total("tally.test", "in")
        before_out = messages_total("tally.test", "out")
        for _ in range(3):
            tally.consumed("tally.test", "sms")
        tally.produced("tally.test", "sms")
        assert messages_total("tally.test", "in") == before_in
        tally.publish()
        tally.publish()
        assert messages_total("tally.test", "in") == before_in + 3
        assert messages_total("tally.test", "out") == before_out + 1


class TestBinding:
    """Record ids bound for each record, unbound after many."""

    def test_bound_ids_reach_log_lines_until_unbind(self) -> None:
        """Each bind shows that record's ids (changed or not); unbind removes them all."""
        ids = Binding("processor", "partition", "offset")
        for processor, partition, offset in (("a", 2, 7), ("a", 2, 8), ("b", 1, 8)):
            ids.bind(processor, partition, offset)
            assert structlog.contextvars.get_contextvars() == {
                "processor": processor, "partition": partition, "offset": offset}
        ids.unbind()
        assert structlog.contextvars.get_contextvars() == {}

    def test_it_shares_its_context_variables_with_bind(self) -> None:
        """An id bound by :func:`bind` is the same id (one key in a log line)."""
        bind(partition=1)
        ids = Binding("partition")
        ids.bind(4)
        assert structlog.contextvars.get_contextvars() == {"partition": 4}
        unbind("partition")
        ids.bind(4)  # bound again although the last value was 4
        assert structlog.contextvars.get_contextvars() == {"partition": 4}
        ids.unbind()
