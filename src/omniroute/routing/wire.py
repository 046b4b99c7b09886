"""The pool stream's records and the router's published events (pure translation).

Pool stream (internal topic ``omniroute.internal.routing-pool-events``, key =
pool): one JSON object per input, ``{"t": type, "pool", "at", "id", "body"}``.
``at`` is stamped when the record enters the stream, so a replay sees the
same clock. Decisions become AssignmentEvents (key agent id), ConversationEvents
(key conversation id) and forwarded pool records, all with deterministic ids.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TypeVar

from omniroute.contract.agents import AgentEvent, AgentEventKind
from omniroute.contract.assignments import AssignmentEvent, AssignmentKind
from omniroute.contract.assignments import Decision as ContractDecision
from omniroute.contract.conversations import ConversationEvent, ConversationEventKind
from omniroute.routing import events as ev
from omniroute.routing.config import fingerprint, parse_agent, parse_policy
from omniroute.routing.events import AGENT_KINDS, CoreEvent, Decision, Kind
from omniroute.routing.policy import AgentCapacity, ChannelRule
from omniroute.routing.requests import RoutingRequest, RoutingRequestKind

POOL_TOPIC = "omniroute.internal.routing-pool-events"
Record = tuple[str, bytes, bytes]
"""(topic before namespacing, key, value)."""
_T = TypeVar("_T")


def pool_record(kind: str, pool: str, at: float, event_id: str, body: dict[str, Any],
                request: dict[str, Any] | None = None) -> Record:
    """One input for a pool's stream (with the routing ``request`` it was written for, when
    its producer wrote it straight into the pool: kept for audits and tests, not read by
    the core)."""
    value = {"t": kind, "pool": pool, "at": at, "id": event_id, "body": body}
    if request is not None:
        value["request"] = request
    return POOL_TOPIC, pool.encode(), json.dumps(value, separators=(",", ":")).encode()


def request_record(request: RoutingRequest, pool: str, at: float, *,
                   direct: bool = False) -> Record:
    """A RoutingRequest as a route/update/cancel input of ``pool`` (``direct``: written by
    its producer, not by the repartition hop; see :class:`~omniroute.routing.events.WorkInput`)."""
    body: dict[str, Any] = {"work_id": request.conversation_id}
    whole = None
    if direct:
        body["direct"] = True
        whole = request.model_dump(mode="json")
    if request.kind is RoutingRequestKind.CANCEL:
        body["reason"] = request.reason or "canceled"
        return pool_record("cancel", pool, at, request.event_id, body, whole)
    body.update(priority=request.priority, skills=dict(request.skills), vip=request.vip,
                sentiment=request.sentiment)
    if request.kind is RoutingRequestKind.UPDATE:
        body["customer_id"] = request.customer_id
        return pool_record("update", pool, at, request.event_id, body, whole)
    body.update(customer_id=request.customer_id, channel=request.channel.value,
                last_agent=request.last_agent_id,
                waiting_since=request.waiting_since.timestamp() if request.waiting_since else None)
    if request.was_parked:
        body["unparked"] = request.reason or "routed again"
    return pool_record("route", pool, at, request.event_id, body, whole)


def move_record(pool: str, at: float, event_id: str, work_id: str, to_pool: str, reason: str,
                priority: int | None = None) -> Record:
    """A supervisor's re-route as an input of ``pool``: the pool holding the conversation
    while it waits or is offered forwards it to ``to_pool`` (a ``cancel`` with ``to_pool``;
    see :class:`~omniroute.routing.events.Cancel`). Written straight into the stream."""
    body: dict[str, Any] = {"work_id": work_id, "direct": True, "reason": reason,
                            "to_pool": to_pool}
    if priority is not None:
        body["priority"] = priority
    return pool_record("cancel", pool, at, event_id, body)


def agent_record(event: AgentEvent, pool: str, at: float) -> Record:
    """An AgentEvent as an input of the agent's pool."""
    return pool_record("agent", pool, at, event.event_id, event.model_dump(mode="json"))


def configure_record(pool: str, document: dict[str, Any], at: float,
                     version: int = 0) -> Record:
    """An admin ``configure`` input carrying a pool's whole configuration (and the
    routing-config version it belongs to; 0 = unversioned, applied per fingerprint)."""
    digest = fingerprint(document)
    event_id = f"cfg:{pool}:v{version}" if version else f"cfg:{pool}:{digest}"
    return pool_record("configure", pool, at, event_id,
                       {"document": document, "fingerprint": digest, "version": version})


def _required(value: _T | None, name: str) -> _T:
    """A field the AgentEvent validator guarantees for this kind (narrowed for the checker)."""
    if value is None:
        raise ValueError(f"agent event without {name}")
    return value


def _agent_event(at: float, eid: str, e: AgentEvent) -> CoreEvent:
    agent_id, kind = e.agent_id, e.kind
    if kind is AgentEventKind.PRESENCE:
        presence = _required(e.presence, "presence")
        return ev.SetPresence(at=at, event_id=eid, agent_id=agent_id, presence=presence.value)
    if kind is AgentEventKind.HEARTBEAT:
        shown = e.presence.value if e.presence is not None else None
        return ev.Heartbeat(at=at, event_id=eid, agent_id=agent_id, presence=shown)
    if kind is AgentEventKind.CAPACITY:
        cap = _required(e.capacity, "capacity")
        rules = {ch.value: ChannelRule(r.weight, r.cap) for ch, r in cap.channels.items()}
        return ev.SetCapacity(at=at, event_id=eid, agent_id=agent_id,
                              capacity=AgentCapacity(cap.total, rules), auto_accept=e.auto_accept)
    work_id = _required(e.conversation_id, "conversation_id")
    if kind is AgentEventKind.ACCEPT:
        return ev.Accept(at=at, event_id=eid, agent_id=agent_id, work_id=work_id,
                         offer_id=_required(e.offer_id, "offer_id"))
    if kind is AgentEventKind.DECLINE:
        return ev.Decline(at=at, event_id=eid, agent_id=agent_id, work_id=work_id,
                          offer_id=_required(e.offer_id, "offer_id"),
                          reason=e.reason or "declined")
    if kind is AgentEventKind.WRAP_UP:
        return ev.WrapUp(at=at, event_id=eid, agent_id=agent_id, work_id=work_id)
    if kind is AgentEventKind.RESOLVE:
        return ev.Resolve(at=at, event_id=eid, agent_id=agent_id, work_id=work_id)
    return ev.Transfer(at=at, event_id=eid, agent_id=agent_id, work_id=work_id,
                       target_agent=e.target_agent_id, target_pool=e.target_pool,
                       reason=e.reason or "transferred")


def to_core(value: bytes) -> tuple[str, CoreEvent]:
    """Decode one pool-stream record into (pool, core event)."""
    raw = json.loads(value)
    pool, at, eid, body, kind = raw["pool"], float(raw["at"]), raw["id"], raw["body"], raw["t"]
    if kind == "route":
        return pool, ev.Route(at=at, event_id=eid, **body)
    if kind == "update":
        return pool, ev.Update(at=at, event_id=eid, **body)
    if kind == "cancel":
        return pool, ev.Cancel(at=at, event_id=eid, **body)
    if kind == "agent":
        return pool, _agent_event(at, eid, AgentEvent.model_validate(body))
    if kind == "tick":
        return pool, ev.Tick(at=at, event_id=eid)
    if kind == "configure":
        doc = body["document"]
        agents = tuple(parse_agent(a, spec) for a, spec in doc["agents"].items())
        return pool, ev.Configure(at=at, event_id=eid, policy=parse_policy(pool, doc["policy"]),
                                  agents=agents, fingerprint=body["fingerprint"],
                                  version=int(body.get("version", 0)),
                                  elsewhere=tuple(doc.get("elsewhere", ())),
                                  moved=dict(doc.get("moved", {})))
    raise ValueError(f"unknown pool record type {kind!r}")


CONVERSATION_KINDS = {
    Kind.ASSIGNED: ConversationEventKind.ASSIGNED, Kind.RESOLVED: ConversationEventKind.RESOLVED,
    Kind.TRANSFERRED: ConversationEventKind.TRANSFERRED,
    Kind.DROPPED: ConversationEventKind.UNASSIGNED, Kind.REVOKED: ConversationEventKind.UNASSIGNED,
    Kind.PARKED: ConversationEventKind.PARKED,
    # moved on to another pool: without it history (and the board) kept the first pool of
    # work that overflowed (a user run's board listed it there, where nobody could take it)
    Kind.FORWARDED: ConversationEventKind.REROUTED,
}


def _when(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def outputs(decision: Decision, workspace: str) -> list[Record]:
    """What one decision publishes: assignment, conversation and forwarded records."""
    d = decision
    found: list[Record] = []
    why = ContractDecision(rule=d.rule[:200], policy_version=d.policy_version,
                           inputs=_safe(dict(d.inputs)))
    if d.kind in AGENT_KINDS and d.agent_id is not None:
        event = AssignmentEvent(
            event_id=f"asg:{d.pool}:{d.seq}", occurred_at=_when(d.at), workspace=workspace,
            agent_id=d.agent_id, kind=AssignmentKind(d.kind.value), conversation_id=d.work_id,
            work_id=d.work_id, offer_id=d.offer_id, pool=d.pool, channel=d.channel,
            priority=d.priority, expires_at=_when(d.expires_at) if d.expires_at else None,
            reason=d.reason, decision=why)
        found.append(("omniroute.assignments.v1", d.agent_id.encode(), event.to_json_bytes()))
    kind = CONVERSATION_KINDS.get(d.kind)
    reason = None
    if d.kind in (Kind.REVOKED, Kind.FORWARDED) and d.rule == "transfer":
        kind = None  # the transfer says it
    elif d.kind is Kind.QUEUED and "unparked" in d.inputs:
        # parked work routed again waits here: history and the board listed it as parked
        # (with the old reason) until an agent was offered it (user run 51)
        kind, reason = ConversationEventKind.REROUTED, str(d.inputs["unparked"])
    if kind is not None and d.work_id is not None and d.customer_id is not None:
        pool = d.target_pool if d.kind is Kind.FORWARDED else d.pool
        if d.kind is Kind.TRANSFERRED and d.inputs.get("to_pool"):
            # to another pool: history (the board's pool column) places it there at once; it
            # named the pool it left until an agent there was offered it (user run 46)
            pool = str(d.inputs["to_pool"])
        conversation = ConversationEvent(
            event_id=f"conv:{d.pool}:{d.seq}", occurred_at=_when(d.at), workspace=workspace,
            conversation_id=d.work_id, customer_id=d.customer_id, kind=kind, channel=d.channel,
            agent_id=d.agent_id, pool=pool, reason=reason or d.reason or d.rule[:1000])
        found.append(("omniroute.conversations.v1", d.work_id.encode(),
                      conversation.to_json_bytes()))
    if d.kind is Kind.FORWARDED and d.forward is not None and d.target_pool is not None:
        body = {k: v for k, v in asdict(d.forward).items() if k not in ("at", "event_id")}
        record = {ev.Route: "route", ev.Update: "update", ev.Cancel: "cancel"}[type(d.forward)]
        found.append(pool_record(record, d.target_pool, d.at, d.forward.event_id, body))
    return found
