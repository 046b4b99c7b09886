"""One conversation as a pool holds it (waiting, offered, assigned or wrapping up)."""

from __future__ import annotations

from typing import Any

QUEUED, OFFERED, ASSIGNED, WRAPPING = "queued", "offered", "assigned", "wrapping"
Sig = tuple[str, tuple[tuple[str, int], ...], str | None]
"""What a waiting group needs: (channel, skill requirement, pinned agent)."""


class WorkState:
    """One conversation waiting for, offered to, or held by an agent of the pool."""

    __slots__ = ("agent_id", "base_priority", "channel", "customer_id", "enqueued_at",
                 "excluded", "hops", "offer_expires", "offer_id", "pin_agent", "pin_until",
                 "priority", "queue_key", "relax_step", "sentiment", "seq", "served", "sig",
                 "skills", "status", "target_step", "vip", "waiting_since", "work_id")

    def __init__(self, work_id: str, customer_id: str, channel: str, seq: int) -> None:
        self.work_id = work_id
        self.customer_id = customer_id
        self.channel = channel
        self.seq = seq
        self.base_priority = 0
        self.priority = 0
        self.skills: dict[str, int] = {}
        self.vip = False
        self.sentiment: float | None = None
        self.waiting_since = 0.0
        self.enqueued_at = 0.0
        self.relax_step = 0
        self.target_step = 0
        """Which of the pool's ordered routing targets the work is at (0: the first)."""
        self.pin_agent: str | None = None
        self.pin_until = 0.0
        self.excluded: set[str] = set()
        self.hops = 0
        self.status = QUEUED
        self.agent_id: str | None = None
        self.offer_id: str | None = None
        self.offer_expires = 0.0
        self.queue_key: tuple[Any, ...] | None = None
        self.sig: Sig | None = None
        self.served = False
        """Assigned once in this pool: its time limits from pool entry no longer apply."""
