"""Leaving a consumer group on purpose, static member or not.

A process with ``OMNIROUTE_INSTANCE_ID`` is a static member of its consumer groups
(Kafka's ``group.instance.id``, KIP-345): restarted under the same id within the
session timeout, it gets its partitions back without a rebalance, so a crash holds
up only its own partitions, for as long as the restart takes. aiokafka, like Kafka's
own clients, never sends LeaveGroup for a static member, so a process stopped on
purpose (Ctrl-C, SIGTERM, scaling down, a rolling update) would keep its partitions
from everyone for the session timeout. :func:`leave_and_stop` leaves by member id
(which Kafka accepts for a static member), so they move at once, as they do for a
dynamic member. A process that is SIGKILLed never gets here, and its restart takes
its partitions back.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer


async def leave_and_stop(consumer: AIOKafkaConsumer) -> None:
    """Stop ``consumer``; a member of a group leaves it at once."""
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is not None:
        # aiokafka's close sends LeaveGroup (by member id) only when this is None
        coordinator._group_instance_id = None
    await consumer.stop()
