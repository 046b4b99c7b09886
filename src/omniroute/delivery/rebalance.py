"""A consumer-group rebalance listener that counts assignments in the shared metric."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.abc import ConsumerRebalanceListener

from omniroute.observability.logs import get_logger
from omniroute.observability.pipeline import REBALANCES

log = get_logger(__name__)


class CountingRebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    """``omniroute_rebalances_total{component}`` + 1 on every partition assignment;
    ``revoked`` is told which partitions left (offsets are committed per record, so
    there is nothing to hand over), ``assigned`` (awaited) which came."""

    def __init__(self, component: str, revoked: Callable[[set[Any]], None] | None = None,
                 assigned: Callable[[set[Any]], Awaitable[None]] | None = None) -> None:
        self.component = component
        self.revoked = revoked
        self.assigned = assigned

    async def on_partitions_revoked(self, revoked: Any) -> None:
        """Tell the owner which partitions left."""
        if self.revoked is not None:
            self.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        """Count the rebalance and log the new assignment."""
        REBALANCES.labels(self.component).inc()
        log.info("partitions_assigned", component=self.component,
                 partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned))
        if self.assigned is not None:
            await self.assigned(set(assigned))
