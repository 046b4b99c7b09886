"""Turning the router's input records into pool-stream records (the repartition step).

Pure apart from the record it is handed: decode, pick the pool, re-key. Bad
bytes go to the dead-letter topic; an agent event for an agent no pool knows is
answered with a ``rejected`` assignment event and changes nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from omniroute.contract.agents import AgentEvent
from omniroute.contract.assignments import AssignmentEvent, AssignmentKind
from omniroute.contract.assignments import Decision as ContractDecision
from omniroute.contract.deadletter import DeadLetter
from omniroute.observability.pipeline import DEAD_LETTERS, MESSAGES
from omniroute.routing.config import RoutingConfig
from omniroute.routing.requests import RoutingRequest
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
    answer = AssignmentEvent(
        event_id=f"rej:{event.event_id}"[:200], occurred_at=event.occurred_at,
        workspace=workspace, agent_id=event.agent_id, kind=AssignmentKind.REJECTED,
        conversation_id=event.conversation_id, offer_id=event.offer_id,
        reason="unknown agent: not in the routing configuration and no pool given",
        decision=ContractDecision(rule="agent event refused", policy_version=0,
                                  inputs={"event": event.event_id, "type": event.kind.value}))
    return "omniroute.assignments.v1", event.agent_id.encode(), answer.to_json_bytes()


def translate_input(settings: Settings, config: RoutingConfig, record: Any,
                    now: float) -> list[Record]:
    """The pool-stream record(s) for one routing request or agent event."""
    is_request = record.topic == settings.topic("omniroute.internal.routing-requests")
    try:
        if is_request:
            request = RoutingRequest.from_json_bytes(record.value or b"")
            count_in(settings, record, request.channel.value)
            pool = request.pool or config.choose_pool(
                request.channel.value, request.intent, request.language, dict(request.skills))
            if pool is None:
                return [dead_letter(record, "no pool: the request names none and no "
                                    "routing rule or default pool matches", NO_POOL)]
            return [request_record(request, pool, now)]
        event = AgentEvent.from_json_bytes(record.value or b"")
        count_in(settings, record)
    except ValidationError as exc:
        count_in(settings, record)
        return [dead_letter(record, exc)]
    pool = config.agent_pool(event.agent_id) or event.pool
    if pool is None:
        return [unknown_agent(event, settings.workspace)]
    return [agent_record(event, pool, now)]
