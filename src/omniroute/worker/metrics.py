"""What ``omniroute worker`` records into the pipeline's shared metrics.

Every name is a shared definition from :mod:`omniroute.observability.pipeline`
(dashboards and alerts query exactly those): records consumed and produced
(``omniroute_messages_total``, component ``worker``, topic without the
namespace), time per record per stage (``omniroute_processing_seconds``,
stages ``identity`` and ``conversations``), dead letters by error type,
partition assignments, and the open conversations this process owns.
faust's own sensor (its in-memory ``Monitor``) is not exported: these are the
worker's only pipeline metrics.

Label children are cached: a ``labels()`` lookup per record is measurable on
the hot path. The batch engine counts a batch's records in a :class:`Tally`
and adds them to the counters once per batch.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from omniroute.observability.pipeline import (
    ACTIVE_CONVERSATIONS,
    DEAD_LETTERS,
    MESSAGES,
    PROCESSING_SECONDS,
    REBALANCES,
    RETRIES,
)

COMPONENT = "worker"
CONVERSATIONS_COMPONENT = "conversations"
NO_CHANNEL = "none"

_children: dict[tuple[str, ...], Any] = {}


def _message_counter(topic: str, channel: str | None, direction: str) -> Any:
    key = (topic, channel or NO_CHANNEL, direction)
    child = _children.get(key)
    if child is None:
        child = _children[key] = MESSAGES.labels(COMPONENT, *key)
    return child


def consumed(topic: str, channel: str | None) -> None:
    """One record of ``topic`` (unprefixed name) consumed."""
    _message_counter(topic, channel, "in").inc()


def produced(topic: str, channel: str | None) -> None:
    """One record produced to ``topic`` (unprefixed name)."""
    _message_counter(topic, channel, "out").inc()


class Tally:
    """A batch's records consumed and produced, counted here and added to the messages
    counters at once by :meth:`publish` (one increment per topic and channel)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str | None, str]] = Counter()

    def consumed(self, topic: str, channel: str | None) -> None:
        """One record of ``topic`` (unprefixed name) consumed."""
        self.counts[topic, channel, "in"] += 1

    def produced(self, topic: str, channel: str | None) -> None:
        """One record produced to ``topic`` (unprefixed name)."""
        self.counts[topic, channel, "out"] += 1

    def publish(self) -> None:
        """Add what was counted to the counters, and start over."""
        for (topic, channel, direction), count in self.counts.items():
            _message_counter(topic, channel, direction).inc(count)
        self.counts.clear()


def processed(stage: str, seconds: float) -> None:
    """One record took ``seconds`` in ``stage`` (identity, conversations)."""
    key = ("stage", stage)
    child = _children.get(key)
    if child is None:
        child = _children[key] = PROCESSING_SECONDS.labels(stage)
    child.observe(seconds)


def dead_lettered(processor: str, error_type: str) -> None:
    """A record refused by ``processor``, by the error's type name."""
    DEAD_LETTERS.labels(processor, error_type).inc()


def rebalanced() -> None:
    """The worker's consumer group assigned partitions to this process."""
    REBALANCES.labels(COMPONENT).inc()


def open_conversations(count: int) -> None:
    """The open conversations of the customers this process owns now."""
    ACTIVE_CONVERSATIONS.labels(CONVERSATIONS_COMPONENT).set(count)


def retried(processor: str) -> None:
    """One attempt at a record failed for a reason that is not the record's; it is retried."""
    key = ("retry", processor)
    child = _children.get(key)
    if child is None:
        child = _children[key] = RETRIES.labels(COMPONENT, processor)
    child.inc()
