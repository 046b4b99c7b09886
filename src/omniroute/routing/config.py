"""Routing configuration from TOML: pools, agents, skills, capacities and policies.

The same plain-dict form (:meth:`RoutingConfig.document`) is what an admin
publishes on ``omniroute.internal.routing-config`` (versioned, see
:mod:`omniroute.routing.live`) and what travels in the pool streams as
``configure`` events, so a runtime change is an event in the log (replayable).
See ``deploy/routing.example.toml`` for every key. Without any configuration the
router runs :data:`BUILTIN`: one ``default`` pool that every agent joins.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from omniroute.errors import ConfigurationError
from omniroute.routing.policy import (
    DEFAULT_JOIN_CAPACITY,
    AgentCapacity,
    AgentProfile,
    BusinessHours,
    ChannelRule,
    Overflow,
    PoolPolicy,
    RelaxStep,
    Selection,
    Target,
    queue_skill,
)

NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCALARS = ("offer_timeout_s", "heartbeat_grace_s", "requeue_on_lost", "away_on_offer_timeout",
           "wrap_up_timeout_s", "queue_cap", "ttl_s", "sticky_s", "transfer_pin_s",
           "vip_boost", "negative_sentiment_boost", "negative_sentiment_below", "sla_s",
           "sla_boost", "max_hops", "auto_join", "dedupe_s",
           "input_stall_s")
DEFAULT_POOL = "default"


@dataclass(frozen=True)
class PoolRule:
    """Choose a pool for a request that names none: every given condition must match."""

    pool: str
    channel: str | None = None
    intent: str | None = None
    language: str | None = None
    skill: str | None = None

    def matches(self, channel: str, intent: str | None, language: str | None,
                skills: dict[str, int]) -> bool:
        """Whether a request with these attributes goes to this rule's pool."""
        return ((self.channel is None or self.channel == channel)
                and (self.intent is None or self.intent == intent)
                and (self.language is None or self.language == language)
                and (self.skill is None or self.skill in skills))


@dataclass(frozen=True)
class RoutingConfig:
    """The whole routing configuration: raw pool/agent tables plus pool-choice rules."""

    pools: dict[str, dict[str, Any]] = field(default_factory=dict)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: tuple[PoolRule, ...] = ()
    default_pool: str | None = None
    calendars: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Named holiday calendars (``[routing.calendars.NAME] holidays = [...]``) that pools'
    business hours refer to; a pool's ``configure`` input carries the dates inlined."""
    bot: dict[str, Any] = field(default_factory=dict)
    """The answer bot's ``[bot]`` table, kept as written: the routers ignore it, the workers
    running the bot read it (:func:`omniroute.bot.policy.parse_bot` validates it)."""

    def agent_name(self, agent_id: str) -> str | None:
        """The name customers see on the agent's replies and typing (``name`` of their
        table), if any."""
        name = self.agents.get(agent_id, {}).get("name")
        return str(name) if name else None

    def agent_pool(self, agent_id: str, named: str | None = None) -> str | None:
        """The pool a configured agent belongs to, else the pool their event names, else
        the pool anyone may join."""
        agent = self.agents.get(agent_id)
        return str(agent["pool"]) if agent else (named or self.join_pool)

    def capacity_of(self, agent_id: str) -> int:
        """The agent's total capacity as the routers apply it: their own table's, else the
        join capacity of the pool anyone joins; 0 when no pool takes them."""
        agent = self.agents.get(agent_id)
        if agent is not None:
            return parse_capacity(agent).total
        pool = self.join_pool
        if pool is None:
            return 0
        join = self.pools[pool].get("join_capacity")
        return parse_capacity(join, 3).total if join is not None else DEFAULT_JOIN_CAPACITY.total

    @property
    def join_pool(self) -> str | None:
        """The ``auto_join`` pool unlisted agents join (the first one, by name)."""
        return next((p for p, t in sorted(self.pools.items()) if t.get("auto_join")), None)

    def choose_pool(self, channel: str, intent: str | None, language: str | None,
                    skills: dict[str, int]) -> str | None:
        """The first matching rule's pool, else the default pool."""
        for rule in self.rules:
            if rule.matches(channel, intent, language, skills):
                return rule.pool
        return self.default_pool

    @property
    def staffed_skills(self) -> frozenset[str]:
        """Skills some configured agent has: triage requires only these (it never strands
        work no agent could take), so a rule naming another never matches."""
        return frozenset(str(skill) for agent in self.agents.values()
                         for skill in (agent.get("skills") or {}))

    def warnings(self) -> list[ConfigWarning]:
        """What in a valid configuration will not work as its author likely meant: a rule
        naming a skill no agent has never matches (:attr:`staffed_skills`; user run 45's
        refunds all went to the default pool), and a pool the rules send work to with nobody
        in it keeps that work waiting."""
        staffed = self.staffed_skills
        manned = {agent["pool"] for agent in self.agents.values()}
        found = []
        for n, rule in enumerate(self.rules, 1):
            if rule.skill is not None and rule.skill not in staffed:
                found.append(ConfigWarning(NEVER_MATCHES, rule.pool, n, rule.skill))
        targets = {rule.pool for rule in self.rules} | {self.default_pool}
        for pool in sorted(p for p in targets if p is not None):
            if pool not in manned and not self.pools.get(pool, {}).get("auto_join"):
                found.append(ConfigWarning(NO_AGENTS, pool))
        return found

    def pool_document(self, pool: str) -> dict[str, Any]:
        """What a ``configure`` admin event carries for one pool."""
        agents = {a: spec for a, spec in sorted(self.agents.items()) if spec["pool"] == pool}
        policy = inline_calendars(self.pools.get(pool, {}), self.calendars)
        document: dict[str, Any] = {"policy": policy, "agents": agents}
        # agents configured in another pool: one who leaves this pool for hers takes the
        # conversations she holds here, and one who joined it unlisted (auto_join) leaves it
        document["moved"] = {a: s["pool"] for a, s in sorted(self.agents.items())
                             if s["pool"] != pool}
        return document

    def document(self) -> dict[str, Any]:
        """The whole configuration as the plain dict a TOML file holds."""
        routing: dict[str, Any] = {}
        if self.default_pool is not None:
            routing["default_pool"] = self.default_pool
        if self.rules:
            routing["rules"] = [{k: v for k, v in asdict(r).items() if v is not None}
                                for r in self.rules]
        if self.calendars:
            routing["calendars"] = self.calendars
        document = {"routing": routing, "pools": self.pools, "agents": self.agents}
        if self.bot:
            document["bot"] = self.bot
        return document


NEVER_MATCHES = "rule_never_matches"
NO_AGENTS = "pool_without_agents"


@dataclass(frozen=True)
class ConfigWarning:
    """One thing :meth:`RoutingConfig.warnings` found: its ``kind`` and what it names (the
    console words it in the admin's language from these; ``str`` is the English)."""

    kind: str
    pool: str
    rule: int | None = None
    """The rule's number, from 1 (:data:`NEVER_MATCHES`)."""
    skill: str | None = None

    def __str__(self) -> str:
        if self.kind == NEVER_MATCHES:
            return (f"rule {self.rule} (skill {self.skill} → pool {self.pool}) never matches: "
                    f"no agent has the skill {self.skill}")
        return f"pool {self.pool} has no agents: what the rules send there waits until one " \
            "is added"


BUILTIN_DOCUMENT: dict[str, Any] = {
    "routing": {"default_pool": DEFAULT_POOL}, "pools": {DEFAULT_POOL: {"auto_join": True}},
    "agents": {}}
"""Out of the box: every request goes to ``default`` and every agent who sends an
event joins it with the default capacity (3 conversations, at most 1 email)."""


def fingerprint(document: dict[str, Any]) -> str:
    """A stable digest of a pool document: the same configuration is applied once."""
    raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()[:20]


def inline_calendars(policy: dict[str, Any],
                     calendars: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The pool table with the holidays of the calendars its business hours name added to
    its own ``holidays`` (sorted, without duplicates); unchanged when it names none."""
    hours = policy.get("business_hours")
    if not isinstance(hours, dict) or not hours.get("calendars"):
        return policy
    dates = set(hours.get("holidays", ()))
    for name in hours["calendars"]:
        if not isinstance(name, str) or name not in calendars:
            raise ValueError(f"business hours name undefined calendar {name!r}")
        dates.update(calendars[name].get("holidays", ()))
    inlined = {k: v for k, v in hours.items() if k != "calendars"}
    inlined["holidays"] = sorted(dates)
    return {**policy, "business_hours": inlined}


def _holiday(day: Any) -> str:
    if not isinstance(day, str) or not DATE.match(day):
        raise ValueError(f"holiday {day!r} must be a date YYYY-MM-DD")
    try:
        date.fromisoformat(day)
    except ValueError as exc:
        raise ValueError(f"holiday {day!r}: {exc}") from exc
    return day


def _targets(raw: list[dict[str, Any]]) -> tuple[Target, ...]:
    if not isinstance(raw, list):
        raise ValueError("targets must be an array of tables")
    targets = []
    for n, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict):
            raise ValueError(f"target {n} must be a table")
        queue, timeout = entry.get("queue"), entry.get("timeout_s")
        if queue is not None and not NAME.match(str(queue)):
            raise ValueError(f"target {n}: queue {queue!r} must match {NAME.pattern}")
        if timeout is not None and float(timeout) <= 0:
            raise ValueError(f"target {n}: timeout_s must be positive")
        if timeout is None and n < len(raw):
            raise ValueError(f"target {n}: only the last routing target may have no timeout_s")
        targets.append(Target(queue, None if timeout is None else float(timeout)))
    return tuple(targets)


def _minutes(span: str) -> tuple[int, int]:
    start, _, end = span.partition("-")
    h1, m1 = (int(x) for x in start.split(":"))
    h2, m2 = (int(x) for x in end.split(":"))
    return h1 * 60 + m1, h2 * 60 + m2


def parse_policy(pool: str, raw: dict[str, Any]) -> PoolPolicy:
    """A :class:`PoolPolicy` from its TOML table (raises ValueError/KeyError/TypeError)."""
    kwargs: dict[str, Any] = {k: raw[k] for k in SCALARS if k in raw}
    if "join_capacity" in raw:
        kwargs["join_capacity"] = parse_capacity(raw["join_capacity"], 3)
    if "selection" in raw:
        kwargs["selection"] = Selection(raw["selection"])
    if "overflow" in raw:
        kwargs["overflow"] = Overflow(float(raw["overflow"]["after_s"]), raw["overflow"]["pool"])
    kwargs["relaxation"] = tuple(
        RelaxStep(float(s["after_s"]), int(s.get("lower_by", 0)), tuple(s.get("drop", ())),
                  bool(s.get("drop_all", False))) for s in raw.get("relaxation", ()))
    if "business_hours" in raw:
        hours = raw["business_hours"]
        weekly = {i: tuple(_minutes(span) for span in hours.get(day, ()))
                  for i, day in enumerate(WEEKDAYS)}
        holidays = tuple(sorted({_holiday(d) for d in hours.get("holidays", ())}))
        kwargs["business_hours"] = BusinessHours(hours.get("timezone", "UTC"), weekly, holidays)
        kwargs["business_hours"].is_open(0.0)  # fails now on an unknown time zone
    if "targets" in raw:
        kwargs["targets"] = _targets(raw["targets"])
    return PoolPolicy(pool=pool, **kwargs)


def parse_capacity(raw: dict[str, Any], default: int = 1) -> AgentCapacity:
    """``capacity`` and ``channels`` of an agent (or a pool's ``join_capacity``) table."""
    channels = {ch: ChannelRule(int(r.get("weight", 1)), r.get("cap"))
                for ch, r in raw.get("channels", {}).items()}
    total = int(raw.get("capacity", default))
    if total < 0 or any(r.weight < 1 or (r.cap is not None and r.cap < 0)
                        for r in channels.values()):
        raise ValueError("capacity, weights and caps must not be negative (weights >= 1)")
    return AgentCapacity(total, channels)


def parse_agent(agent_id: str, raw: dict[str, Any]) -> AgentProfile:
    """An :class:`AgentProfile` from its TOML table."""
    if not NAME.match(agent_id):
        raise ValueError(f"agent id {agent_id!r} must match {NAME.pattern}")
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 100):
        raise ValueError(f"agent {agent_id!r}: name must be text of 1-100 characters")
    skills = {k: int(v) for k, v in raw.get("skills", {}).items()}
    queues = raw.get("queues", ())
    if not isinstance(queues, list | tuple):
        raise ValueError(f"agent {agent_id!r}: queues must be an array of names")
    for queue in queues:
        if not NAME.match(str(queue)):
            raise ValueError(f"agent {agent_id!r}: queue {queue!r} must match {NAME.pattern}")
        skills[queue_skill(queue)] = 0
    return AgentProfile(agent_id, raw["pool"], parse_capacity(raw), skills,
                        bool(raw.get("auto_accept", False)))


def parse_config(raw: dict[str, Any], source: str = "configuration") -> RoutingConfig:
    """Validate a whole configuration document; errors name the table at fault."""
    pools = raw.get("pools", {})
    agents = raw.get("agents", {})
    routing = raw.get("routing", {})
    calendars = routing.get("calendars", {})
    bot = raw.get("bot", {})
    try:
        if not isinstance(bot, dict):
            raise ValueError("[bot] must be a table")
        for name, table in calendars.items():
            if not NAME.match(name) or not isinstance(table, dict):
                raise ValueError(f"calendar {name!r}: a table named like {NAME.pattern}")
            for day in table.get("holidays", ()):
                _holiday(day)
        for name, table in pools.items():
            if not NAME.match(name):
                raise ValueError(f"pool name {name!r} must match {NAME.pattern}")
            parse_policy(name, inline_calendars(table, calendars))
        for name, table in agents.items():
            profile = parse_agent(name, table)
            if profile.pool not in pools:
                raise ValueError(f"agent {name!r} is in undefined pool {profile.pool!r}")
        rules = tuple(PoolRule(**rule) for rule in routing.get("rules", ()))
        default = routing.get("default_pool") or (next(iter(pools)) if len(pools) == 1 else None)
        for pool in [default, *(r.pool for r in rules)]:
            if pool is not None and pool not in pools:
                raise ValueError(f"routing names undefined pool {pool!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{source}: {exc}",
                                 hint="see deploy/routing.example.toml") from exc
    return RoutingConfig(pools=pools, agents=agents, rules=rules, default_pool=default,
                         calendars=calendars, bot=bot)


BUILTIN = parse_config(BUILTIN_DOCUMENT, "built-in configuration")


def load_config(path: Path) -> RoutingConfig:
    """Read and validate a TOML routing configuration file."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read routing configuration {path}: {exc}") from exc
    return parse_config(raw, str(path))


def pool_business_hours(config: RoutingConfig) -> dict[str, BusinessHours]:
    """The pools of ``config`` that keep business hours, with them (the others: always open)."""
    return {name: hours for name, spec in config.pools.items()
            if (hours := parse_policy(name, spec).business_hours) is not None}
