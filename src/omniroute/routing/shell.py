"""Turning the router's input records into pool-stream records (the repartition step).

Pure apart from the record it is handed: decode, pick the pool, re-key. Bad
bytes go to the dead-letter topic; an agent event for an agent no pool knows
(or one that does not parse but names its agent) is answered with a
``rejected`` assignment event and changes nothing; a routing request no pool
takes is dead-lettered and its conversation ``parked`` with the reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from omniroute.contract.agents import AgentEvent
from omniroute.contract.assignments import AssignmentEvent, AssignmentKind
from omniroute.contract.assignments import Decision as ContractDecision
from omniroute.contract.conversations import ConversationEvent, ConversationEventKind
from omniroute.contract.deadletter import DeadLetter
from omniroute.observability.pipeline import DEAD_LETTERS, MESSAGES
from omniroute.routing.config import RoutingConfig
from omniroute.routing.requests import RoutingRequest, RoutingRequestKind
from omniroute.routing.wire import Record, agent_record, request_record
from omniroute.settings import Settings

PROCESSOR = "router"


class PoisonRecord(Exception):
    """A pool-stream record the core could not apply."""


NO_POOL = "NoPool"
"""DEAD_LETTERS reason of a request no pool takes (not an exception)."""


def dead_letter(record: Any, error: BaseException | str, reason: str | None = None) -> Record:
    """The DLQ record for ``record`` (an aiokafka ConsumerRecord); counted by ``reason``
    (default: the error's type name, a bounded label)."""
    letter = DeadLetter.for_record(
        processor=PROCESSOR, topic=record.topic, partition=record.partition,
        offset=record.offset, key=record.key, value=record.value, error=error)
    if reason is None:
        reason = type(error).__name__ if isinstance(error, BaseException) else "RoutingError"
    DEAD_LETTERS.labels(PROCESSOR, reason).inc()
    return "omniroute.dlq.v1", record.key or b"", letter.to_json_bytes()


def count_in(settings: Settings, record: Any, channel: str = "none") -> None:
    """MESSAGES in: the topic without the namespace prefix."""
    topic = record.topic.removeprefix(settings.topic_namespace)
    MESSAGES.labels(PROCESSOR, topic, channel, "in").inc()


def unknown_agent(event: AgentEvent, workspace: str) -> Record:
    """A ``rejected`` answer to an agent event whose agent belongs to no known pool."""
    return refused(event.agent_id, event.event_id, event.kind.value, workspace,
                   "unknown agent: not in the routing configuration, no pool given and no "
                   "pool that agents join (auto_join)", event.conversation_id, event.offer_id)


def refused(agent_id: str, event_id: str, kind: str, workspace: str, reason: str,
            conversation_id: str | None = None, offer_id: str | None = None) -> Record:
    """A ``rejected`` AssignmentEvent to ``agent_id`` for their event ``event_id``."""
    answer = AssignmentEvent(
        event_id=f"rej:{event_id}"[:200], occurred_at=datetime.now(UTC), workspace=workspace,
        agent_id=agent_id, kind=AssignmentKind.REJECTED, conversation_id=conversation_id,
        offer_id=offer_id, reason=reason[:1000],
        decision=ContractDecision(rule="agent event refused", policy_version=0,
                                  inputs={"event": event_id, "type": kind}))
    return "omniroute.assignments.v1", agent_id.encode(), answer.to_json_bytes()


def unparsed_agent_event(record: Any, exc: ValidationError, workspace: str) -> list[Record]:
    """A ``rejected`` answer to an agent event that does not validate, when it names a
    usable agent id (else only the dead letter says why)."""
    try:
        raw = json.loads(record.value or b"")
        agent_id = raw["agent_id"]
        event_id = str(raw.get("event_id") or f"{record.partition}:{record.offset}")
        kind = str(raw.get("kind", "unknown"))[:64]
        return [refused(agent_id, event_id, kind, workspace, f"invalid agent event: {exc}")]
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError):
        return []


def parked(request: RoutingRequest, reason: str, workspace: str) -> Record:
    """The ConversationEvent ``parked`` of a request no pool takes (visible to supervisors)."""
    event = ConversationEvent(
        event_id=f"park:{request.event_id}"[:200], occurred_at=datetime.now(UTC),
        workspace=workspace, conversation_id=request.conversation_id,
        customer_id=request.customer_id, kind=ConversationEventKind.PARKED,
        channel=request.channel, pool=request.pool, reason=reason)
    return ("omniroute.conversations.v1", request.conversation_id.encode(),
            event.to_json_bytes())


MAX_LAG_S = 600.0
"""How far back an input's own time stamp may put it (clock skew, long stalls)."""


def stamp(occurred_at: datetime, now: float) -> float:
    """An input's time in its pool: its own ``occurred_at``, so a stall of this hop does not
    make it look late (agents lost), within ``MAX_LAG_S`` before ``now`` and never after."""
    return min(now, max(occurred_at.timestamp(), now - MAX_LAG_S))


def translate_input(settings: Settings, config: RoutingConfig, record: Any,
                    now: float, *, park: bool = True) -> list[Record] | None:
    """The pool-stream record(s) for one routing request or agent event; None, with
    nothing counted, for a request no pool takes when ``park`` is False (the caller
    reads newer configuration first)."""
    is_request = record.topic == settings.topic("omniroute.internal.routing-requests")
    try:
        if is_request:
            request = RoutingRequest.from_json_bytes(record.value or b"")
            pool = request.pool or config.choose_pool(
                request.channel.value, request.intent, request.language, dict(request.skills))
            if pool is None and not park:
                return None
            count_in(settings, record, request.channel.value)
            if pool is None:
                reason = ("no pool: the request names none and no routing rule or default "
                          "pool matches")
                if request.kind is not RoutingRequestKind.ROUTE:
                    return [dead_letter(record, reason, NO_POOL)]
                return [dead_letter(record, reason, NO_POOL),
                        parked(request, reason, settings.workspace)]
            return [request_record(request, pool, stamp(request.occurred_at, now))]
        event = AgentEvent.from_json_bytes(record.value or b"")
        count_in(settings, record)
    except ValidationError as exc:
        count_in(settings, record)
        answer = [] if is_request else unparsed_agent_event(record, exc, settings.workspace)
        return [dead_letter(record, exc), *answer]
    pool = config.agent_pool(event.agent_id, event.pool)
    if pool is None:
        return [unknown_agent(event, settings.workspace)]
    return [agent_record(event, pool, stamp(event.occurred_at, now))]
