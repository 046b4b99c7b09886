"""Pool-state snapshots: bytes that bring a pool back to where its stream was.

A snapshot is the pool's *facts* as JSON (zlib-compressed): policy, clock,
counters, agents, work items, timers, route ids and forwarding pointers, plus
the pool-stream offset it reflects (the first offset *not* yet folded into it).
Indexes (ready agents, waiting groups) are not stored: :func:`load` rebuilds
them from the facts, exactly as they were. Restoring = load the latest snapshot,
then fold the stream from that offset; because the core is deterministic the
result decides like a full replay. JSON, not pickle: loading runs no code, and a
snapshot written by one version of the core is readable by the next (a changed
layout bumps :data:`FORMAT`, and an unknown format means "no snapshot").
"""

from __future__ import annotations

import json
import zlib
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields
from typing import Any

from omniroute.routing.policy import (
    AgentCapacity,
    AgentProfile,
    BusinessHours,
    ChannelRule,
    Overflow,
    PoolPolicy,
    RelaxStep,
    Selection,
    Target,
)
from omniroute.routing.state import AgentState, Ended, PoolState, WorkState

FORMAT = 2
MAX_BYTES = 7 * 1024 * 1024
"""Larger snapshots are skipped (restore then replays further back): below the
topic's ``max.message.bytes`` of 8 MiB."""
AGENT_FACTS = ("presence", "lost", "last_seen", "load", "per_channel", "held", "idle_since",
               "rr_seq", "timer_armed", "fed_armed", "heard")
HEARD_BEFORE = False
"""``heard`` of an agent in a snapshot written before the fact existed: her next heartbeat
may set her presence once, to what her app shows. That is the presence the pool holds for
every agent but one put back while her app said "available" (whom it heals: user run 20's
jun stayed offline after the router was upgraded from such a snapshot)."""
WORK_FACTS = tuple(s for s in WorkState.__slots__
                   if s not in ("queue_key", "sig", "excluded", "target_step"))
POOL_FACTS = ("version", "now", "seq", "fingerprint", "config_version", "open",
              "open_checked_minute", "queued", "fed")


@dataclass(frozen=True)
class Snapshot:
    """One pool's state and the pool-stream offset it reflects."""

    pool: str
    offset: int
    state: PoolState


def _capacity(raw: dict[str, Any]) -> AgentCapacity:
    return AgentCapacity(raw["total"], {ch: ChannelRule(**r) for ch, r in raw["channels"].items()})


def policy_from(raw: dict[str, Any]) -> PoolPolicy:
    """A :class:`PoolPolicy` from :func:`dataclasses.asdict` of one."""
    values = dict(raw)
    values["selection"] = Selection(raw["selection"])
    values["relaxation"] = tuple(RelaxStep(s["after_s"], s["lower_by"], tuple(s["drop"]),
                                           s["drop_all"]) for s in raw["relaxation"])
    values["overflow"] = Overflow(**raw["overflow"]) if raw["overflow"] else None
    hours = raw["business_hours"]
    values["business_hours"] = BusinessHours(hours["timezone"], {
        int(day): tuple((a, b) for a, b in spans) for day, spans in hours["weekly"].items()
    }, tuple(hours.get("holidays", ()))) if hours else None
    values["targets"] = tuple(Target(**t) for t in raw.get("targets", ()))
    values["join_capacity"] = _capacity(raw["join_capacity"])
    return PoolPolicy(**values)


def _profile(raw: dict[str, Any]) -> AgentProfile:
    return AgentProfile(raw["agent_id"], raw["pool"], _capacity(raw["capacity"]),
                        dict(raw["skills"]), raw["auto_accept"], raw["joined"])


def _timers(heap: list[tuple[float, int, str, Any]]) -> list[list[Any]]:
    return [[due, seq, kind, list(ref) if isinstance(ref, tuple) else ref]
            for due, seq, kind, ref in heap]


def _untimers(raw: list[list[Any]]) -> list[tuple[float, int, str, Any]]:
    return [(due, seq, kind, tuple(ref) if isinstance(ref, list) else ref)
            for due, seq, kind, ref in raw]


def _ended(raw: list[Any]) -> Ended:
    """A ``closed`` entry: [agent, at] (a completion, the only shape before transfers were
    remembered, so older snapshots load) or [agent, at, target agent, target pool] (a
    transfer; a core older than that takes such a snapshot for damage and replays)."""
    if len(raw) == 2:
        return (raw[0], raw[1])
    agent, at, to_agent, to_pool = raw
    return (agent, at, to_agent, to_pool)


def facts(state: PoolState) -> dict[str, Any]:
    """Everything the pool knows, as JSON-ready values (indexes left out)."""
    return {
        "policy": asdict(state.policy),
        **{name: getattr(state, name) for name in POOL_FACTS},
        "agents": [[asdict(a.profile), [getattr(a, f) for f in AGENT_FACTS]]
                   for a in state.agents.values()],
        "work": [[[getattr(i, f) for f in WORK_FACTS], sorted(i.excluded),
                  [i.sig[0], [list(n) for n in i.sig[1]], i.sig[2]] if i.sig else None,
                  i.target_step]
                 for i in state.work.values()],
        "timers": _timers(state.timers), "fed_timers": _timers(state.fed_timers),
        "seen_routes": dict(state.seen_routes),
        "moved": {w: list(v) for w, v in state.moved.items()},
        "closed": {w: list(v) for w, v in state.closed.items()},
        "today": state.today,
    }


def rebuild(raw: dict[str, Any]) -> PoolState:
    """The pool from :func:`facts`, indexes rebuilt exactly (ready keys, groups)."""
    state = PoolState(policy=policy_from(raw["policy"]))
    for name in POOL_FACTS:
        setattr(state, name, raw[name])
    for profile, values in raw["agents"]:
        agent = state.agents[profile["agent_id"]] = AgentState(_profile(profile), 0.0)
        if len(values) == len(AGENT_FACTS) - 1:  # written before "heard"
            values = [*values, HEARD_BEFORE]
        for name, value in zip(AGENT_FACTS, values, strict=True):
            setattr(agent, name, value)
        state.refresh_ready(agent)
    queued = state.queued
    for values, excluded, sig, *more in raw["work"]:
        item = WorkState("", "", "", 0)
        for name, value in zip(WORK_FACTS, values, strict=True):
            setattr(item, name, value)
        item.target_step = more[0] if more else 0
        item.excluded = set(excluded)
        state.work[item.work_id] = item
        if sig is not None:
            _requeue(state, item, (sig[0], tuple((s, lvl) for s, lvl in sig[1]), sig[2]))
    state.queued = queued
    state.timers = _untimers(raw["timers"])
    state.fed_timers = _untimers(raw["fed_timers"])
    state.seen_routes = OrderedDict(raw["seen_routes"])
    state.moved = OrderedDict((w, (p, at)) for w, (p, at) in raw["moved"].items())
    state.closed = OrderedDict((w, _ended(v)) for w, v in raw.get("closed", {}).items())
    state.today = dict(raw.get("today", {}))
    return state


def _requeue(state: PoolState, item: WorkState, sig: Any) -> None:
    """Put a waiting item back in its group with the key it had (pin as it was)."""
    now, status = state.now, item.status
    pin_until = item.pin_until
    state.now = item.pin_until - 1 if sig[2] is not None else state.now
    item.pin_until = pin_until if sig[2] is not None else 0.0
    state.enqueue(item, sig[1])
    state.now, item.pin_until, item.status = now, pin_until, status


def dump_parts(pool: str, offset: int, state: PoolState,
               limit: int = MAX_BYTES - 1024) -> list[bytes]:
    """The snapshot as record values of at most ``limit`` bytes each: a JSON header line
    (format, pool, offset, part, parts), then a slice of the compressed facts."""
    body = zlib.compress(json.dumps(facts(state), separators=(",", ":")).encode(), 1)
    slices = [body[i:i + limit] for i in range(0, len(body), limit)] or [b""]
    return [json.dumps({"format": FORMAT, "pool": pool, "offset": offset, "part": n,
                        "parts": len(slices)}, separators=(",", ":")).encode() + b"\n" + piece
            for n, piece in enumerate(slices)]


def dump(pool: str, offset: int, state: PoolState) -> bytes:
    """The whole snapshot as one value (no size limit)."""
    return dump_parts(pool, offset, state, limit=1 << 62)[0]


def header(value: bytes) -> dict[str, Any] | None:
    """A snapshot record's header (None: not one this core can read)."""
    try:
        meta = json.loads(value.partition(b"\n")[0])
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return None
    meta.setdefault("part", 0)
    meta.setdefault("parts", 1)
    return meta


def load_parts(values: list[bytes]) -> Snapshot | None:
    """A snapshot from all its parts in order; None for another format or damage."""
    try:
        metas = [header(v) for v in values]
        if not metas or any(m is None or m["part"] != n or m["parts"] != len(values)
                            for n, m in enumerate(metas)):
            return None
        body = b"".join(v.partition(b"\n")[2] for v in values)
        state = rebuild(json.loads(zlib.decompress(body)))
    except (ValueError, zlib.error, KeyError, TypeError, AttributeError, IndexError):
        return None
    meta = metas[0]
    assert meta is not None
    return Snapshot(str(meta["pool"]), int(meta["offset"]), state)


def load(value: bytes) -> Snapshot | None:
    """A one-record snapshot from its value; None for another format or damage."""
    return load_parts([value])


assert {f.name for f in fields(PoolState)} >= set(POOL_FACTS)
