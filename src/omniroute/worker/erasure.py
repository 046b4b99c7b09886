"""The worker forgets an erased customer: every table, tombstoned, durable, then answered.

``customers erase`` sends one :class:`~omniroute.history.erase_requests.EraseRequest`
to every partition of ``omniroute.internal.erase-requests``
(:mod:`omniroute.history.erase_requests`). For the request on the partitions
it owns, this agent:

1. removes, from every table of the worker (identity addresses, claims,
   adjacency and owners; conversations; automation memory; answer-bot
   sessions; any table a processor adds later), each entry whose key or value
   names one of the request's identifiers. The removal is synchronous (no
   ``await`` between finding and removing), so no other agent interleaves;
2. writes a tombstone for each removed key to **every** partition of the
   table's changelog (an entry's partition is the one of the record that last
   wrote it, which faust's memory store does not keep for live writes; a
   tombstone for a key a partition never held is a no-op on restore and is
   compacted away);
3. flushes the producer, so the tombstones are durable, and only then sends
   :class:`~omniroute.history.erase_requests.EraseDone` with the counts.

Before it forgets them, the customer's open conversations end: a ``resolved``
event and a routing ``cancel`` request each, reason "customer erased". Until
2026-12-07 an erased customer's conversation stayed open, held by its agent
and counted in her capacity until she resolved it by hand (user runs 42 and
48). The router revokes it from her (her console says why) or drops it from
its queue; no survey goes out (the customer has no address left to send it to,
and :mod:`.conversations` does not read these ``resolved`` events back).

A repeated request (a replay after a crash) finds nothing more and answers
again. Registered by listing this module in ``omniroute.worker.app.PROCESSORS``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from omniroute.contract import ConversationEvent, ConversationEventKind
from omniroute.contract.topics import CONVERSATIONS
from omniroute.conversations.state import CustomerState
from omniroute.history.erase_requests import (
    ERASE_DONE,
    ERASE_EVENT_PREFIX,
    ERASE_REQUESTS,
    ERASED_REASON,
    EraseDone,
    EraseRequest,
    needle_pattern,
)
from omniroute.observability.logs import get_logger
from omniroute.routing.requests import RoutingRequest, RoutingRequestKind
from omniroute.worker.app import Worker
from omniroute.worker.routes import send_request

ERASED_ENTRIES = Counter("omniroute_erased_entries_total",
                         "Worker table entries removed by customer erasure.")
log = get_logger("omniroute.worker.erasure")


def _text(key: Any, value: Any) -> str:
    """A table entry as text (keys are strings; values JSON bytes or decoded JSON)."""
    if isinstance(value, bytes | bytearray):
        shown = bytes(value).decode("utf-8", "replace")
    else:
        shown = json.dumps(value, default=str, ensure_ascii=False)
    return f"{key}\n{shown}"


def doomed_keys(entries: Any, needles: list[str]) -> list[Any]:
    """The keys of ``entries`` (key, value pairs) whose key or value names a needle
    (as a whole token: :func:`~omniroute.history.erase_requests.needle_pattern`)."""
    pattern = needle_pattern(needles)
    if pattern is None:
        return []
    return [key for key, value in entries if pattern.search(_text(key, value))]


def closing(state: CustomerState, request_id: str, at: datetime
            ) -> tuple[ConversationEvent, RoutingRequest] | None:
    """The ``resolved`` event and the router's ``cancel`` that end the customer's open
    conversation (None without one); ids derived from the request, so a replay repeats
    them (the sink and the router keep one)."""
    conv = state.current
    if state.merged_into is not None or conv is None or not conv.is_open:
        return None
    base = f"{ERASE_EVENT_PREFIX}{request_id}:{conv.id}"
    resolved = ConversationEvent(
        event_id=f"{base}:resolved", occurred_at=at, workspace=state.workspace,
        conversation_id=conv.id, customer_id=state.customer_id,
        kind=ConversationEventKind.RESOLVED, channel=conv.last_channel, pool=conv.pool,
        agent_id=conv.agent_id, reason=ERASED_REASON)
    cancel = RoutingRequest(
        event_id=f"{base}:cancel", occurred_at=at, workspace=state.workspace,
        kind=RoutingRequestKind.CANCEL, conversation_id=conv.id,
        customer_id=state.customer_id, channel=conv.routed_channel or conv.last_channel,
        pool=conv.pool, reason=ERASED_REASON)
    return resolved, cancel


class Eraser:
    """Handles erase requests against every table of one worker."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def closings(self, request: EraseRequest, at: datetime
                 ) -> list[tuple[ConversationEvent, RoutingRequest]]:
        """What ends the open conversations of the customers the request names."""
        conversations = self.worker.components.get("conversations")
        if conversations is None:
            return []
        table = conversations.customers
        keys = doomed_keys(list(table.table.data.items()), request.needles)
        found = [end for key in keys if (state := table.get(key)) is not None
                 and (end := closing(state, request.request_id, at)) is not None]
        # the waiting ones first: a slot the router frees takes the next waiting
        # conversation, which should not be one of these
        return sorted(found, key=lambda end: end[0].agent_id is not None)

    def forget(self, needles: list[str]) -> tuple[dict[str, int], list[Any]]:
        """Remove matching entries from every table (no await inside: atomic for the
        event loop); returns the counts per table and the changelog sends pending."""
        removed: dict[str, int] = {}
        sends: list[Any] = []
        for name, table in sorted(self.worker.app.tables.items()):
            store = table.data  # the store itself: no changelog write per key from faust
            keys = doomed_keys(list(store.items()), needles)
            for key in keys:
                del store[key]
                getattr(store, "_key_partition", {}).pop(key, None)  # memory store bookkeeping
                for partition in range(table.partitions or self.worker.partitions):
                    sends.append(table.send_changelog(partition, key, None,
                                                      value_serializer="raw"))
            if keys:
                removed[name] = len(keys)
        return removed, sends

    async def on_request(self, event: Any) -> None:
        """Forget, make the tombstones durable, then answer (see the module docstring).
        A request's own tombstone (written once every partition answered) asks nothing."""
        if not event.value:
            return
        request = EraseRequest.model_validate_json(event.value)
        closings = self.closings(request, datetime.now(UTC))
        removed, sends = self.forget(request.needles)  # no await since the closings were read
        for resolved, cancel in closings:
            await self.worker.send(CONVERSATIONS.name, resolved.conversation_id,
                                   resolved.to_json_bytes())
            await send_request(self.worker, cancel)
            log.info("erased_customer_conversation_closed", request_id=request.request_id,
                     conversation_id=resolved.conversation_id, agent_id=resolved.agent_id)
        if sends:
            await self.worker.app.producer.flush()
            await asyncio.gather(*sends)
        ERASED_ENTRIES.inc(sum(removed.values()))
        partition = event.message.partition
        log.info("customer_erased_from_tables", request_id=request.request_id,
                 partition=partition, removed=removed)
        done = EraseDone(request_id=request.request_id, partition=partition, removed=removed)
        await self.worker.send(ERASE_DONE, request.request_id, done.model_dump_json().encode())
        await self.worker.app.producer.flush()


def register(worker: Worker) -> None:
    """Add the erase agent to the worker."""
    eraser = Eraser(worker)
    worker.components["erasure"] = eraser

    async def handle(event: Any) -> str | None:
        await eraser.on_request(event)
        return None

    worker.agent(ERASE_REQUESTS, "worker.erasure", handle, stage="erasure")
