"""Live administration of the routing configuration: the pure core.

The configuration is one plain document (the TOML file's shape):
``{"routing": {"default_pool", "rules"}, "pools": {name: policy}, "agents":
{id: profile}}``. An admin change is a function document → document; the
result is validated by the router's own parser before it is published, and
the difference between the two documents (:func:`diff`) is what the audit log
keeps. Nothing here touches Kafka or PostgreSQL.
"""

from __future__ import annotations

import copy
import tomllib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from omniroute.bot.policy import BotPolicy, parse_bot
from omniroute.contract import Channel
from omniroute.errors import ConfigurationError
from omniroute.routing.config import RoutingConfig, parse_config
from omniroute.routing.document import to_toml as document_toml

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")]
Document = dict[str, Any]
TABLES = ("routing", "pools", "agents", "bot")
"""The top-level tables of a configuration document, in the order TOML lists them."""


class Spec(BaseModel):
    """Base of admin bodies: unknown keys are refused (a typo is an error, not a no-op)."""

    model_config = ConfigDict(extra="forbid")


class ChannelLimit(Spec):
    """How much one conversation on a channel weighs and how many the agent may hold."""

    weight: Annotated[int, Field(ge=1, le=100)] = 1
    cap: Annotated[int, Field(ge=0, le=1000)] | None = None


class AgentSpec(Spec):
    """An agent's routing profile: pool membership, capacity, channel caps, skills."""

    pool: Name = Field(description="The pool the agent works in.")
    capacity: Annotated[int, Field(ge=0, le=1000)] = 1
    channels: dict[Channel, ChannelLimit] = Field(
        default={}, description="Per-channel weight and cap, e.g. email: {cap: 1}.")
    skills: dict[Annotated[str, Field(min_length=1, max_length=64)],
                 Annotated[int, Field(ge=0, le=10)]] = Field(
        default={}, description="Skill name → proficiency level 0-10.")
    auto_accept: bool = False
    queues: list[Name] | None = Field(
        default=None, description="Queues of the pool the agent is in (one capacity).")
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="The name customers see on the agent's replies and typing "
                                  "(e.g. a first name); none: no name is shown.")


class Overflow(Spec):
    """Send waiting work to another pool after a time."""

    after_s: Annotated[float, Field(gt=0)]
    pool: Name


class PoolSpec(Spec):
    """A pool's policy (every key optional; see deploy/routing.example.toml)."""

    selection: str | None = Field(
        default=None, description="longest_idle, least_occupied, round_robin or best_match.")
    offer_timeout_s: Annotated[float, Field(gt=0)] | None = None
    heartbeat_grace_s: Annotated[float, Field(gt=0)] | None = None
    requeue_on_lost: bool | None = None
    away_on_offer_timeout: bool | None = None
    wrap_up_timeout_s: Annotated[float, Field(ge=0)] | None = None
    queue_cap: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="At most this many waiting conversations.")
    ttl_s: Annotated[float, Field(gt=0)] | None = None
    sticky_s: Annotated[float, Field(ge=0)] | None = None
    transfer_pin_s: Annotated[float, Field(ge=0)] | None = None
    vip_boost: int | None = None
    negative_sentiment_boost: int | None = None
    negative_sentiment_below: float | None = None
    sla_s: Annotated[float, Field(gt=0)] | None = None
    sla_boost: int | None = None
    max_hops: Annotated[int, Field(ge=0)] | None = None
    auto_join: bool | None = Field(default=None,
                                   description="Agents with a token join this pool unlisted.")
    dedupe_s: Annotated[float, Field(ge=0)] | None = None
    join_capacity: dict[str, Any] | None = None
    overflow: Overflow | None = None
    relaxation: list[dict[str, Any]] | None = None
    business_hours: dict[str, Any] | None = Field(
        default=None, description='{timezone: "Asia/Seoul", mon: ["09:00-18:00"], ...}')
    targets: list[dict[str, Any]] | None = Field(
        default=None, description='Ordered routing targets: [{queue: "tier1", timeout_s: 30}, '
        '{queue: "tier2"}].')


class RuleSpec(Spec):
    """Choose a pool for a request naming none: every given condition must match."""

    pool: Name
    channel: str | None = None
    intent: str | None = None
    language: str | None = None
    skill: str | None = None


class RoutingSpec(Spec):
    """Pool-choice rules (first match wins) and the default pool."""

    rules: list[RuleSpec] = []
    default_pool: Name | None = None


class BotSpec(Spec):
    """The answer bot's switches and tunables (the ``[bot]`` table)."""

    enabled: bool = True
    channels: list[Channel] | None = Field(default=None, description="Omitted: every channel.")
    pools: list[Name] | None = Field(default=None, description="Omitted: every pool.")
    hours: Literal["always", "closed", "open"] = "always"
    threshold: Annotated[float, Field(gt=0, le=1)] = BotPolicy.threshold
    margin: Annotated[float, Field(ge=0, le=1)] = BotPolicy.margin
    feedback_window_s: Annotated[float, Field(gt=0, le=86_400)] = BotPolicy.feedback_window_s
    max_misses: Annotated[int, Field(ge=1, le=20)] = BotPolicy.max_misses
    article_url: Annotated[str, Field(max_length=500)] | None = None


def as_document(config: RoutingConfig) -> Document:
    """The configuration as the plain document a TOML file holds (a copy to change)."""
    return copy.deepcopy(config.document())


def validated(document: Document, source: str = "change") -> RoutingConfig:
    """The RoutingConfig of a document, or ConfigurationError naming what is wrong (its
    ``[bot]`` table included)."""
    config = parse_config(document, source)
    if config.bot:
        parse_bot(document, source)
    return config


def _plain(spec: BaseModel) -> dict[str, Any]:
    return spec.model_dump(mode="json", exclude_none=True, exclude_defaults=False)


def put_agent(document: Document, agent_id: str, spec: AgentSpec) -> Document:
    """The document with the agent created or replaced."""
    after = copy.deepcopy(document)
    table = _plain(spec)
    if not table.get("channels"):
        table.pop("channels", None)
    if not table.get("skills"):
        table.pop("skills", None)
    after.setdefault("agents", {})[agent_id] = table
    return after


def delete_agent(document: Document, agent_id: str) -> Document:
    """The document without the agent (KeyError when it has none)."""
    after = copy.deepcopy(document)
    del after.get("agents", {})[agent_id]
    return after


def put_pool(document: Document, pool: str, spec: PoolSpec) -> Document:
    """The document with the pool's policy created or replaced."""
    after = copy.deepcopy(document)
    after.setdefault("pools", {})[pool] = _plain(spec)
    return after


def delete_pool(document: Document, pool: str) -> Document:
    """The document without the pool; agents or rules still in it make it invalid."""
    after = copy.deepcopy(document)
    del after.get("pools", {})[pool]
    users = sorted(a for a, t in after.get("agents", {}).items() if t.get("pool") == pool)
    if users:
        raise ConfigurationError(f"pool {pool!r} still has agents: {', '.join(users)}",
                                 hint="move or delete them first")
    return after


def set_routing(document: Document, spec: RoutingSpec) -> Document:
    """The document with new rules and default pool."""
    after = copy.deepcopy(document)
    routing: dict[str, Any] = {}
    if spec.default_pool is not None:
        routing["default_pool"] = spec.default_pool
    if spec.rules:
        routing["rules"] = [_plain(r) for r in spec.rules]
    if "calendars" in after.get("routing", {}):  # holiday calendars stay (set by TOML)
        routing["calendars"] = after["routing"]["calendars"]
    after["routing"] = routing
    return after


def set_bot(document: Document, spec: BotSpec) -> Document:
    """The document with the answer bot's table replaced (``enabled = false`` keeps the
    bot's settings and switches it off)."""
    after = copy.deepcopy(document)
    after["bot"] = _plain(spec)
    return after


def diff(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Every leaf that changed, as ``{path, before, after}`` (None where absent)."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after), key=str):
            where = f"{path}.{key}" if path else str(key)
            changes += diff(before.get(key), after.get(key), where)
        return changes
    if before == after:
        return []
    return [{"path": path, "before": before, "after": after}]


def to_toml(document: Document) -> str:
    """The document as TOML text (what ``omniroute admin export`` prints)."""
    ordered = {k: document[k] for k in TABLES if document.get(k)}
    return document_toml(ordered)


def from_toml(text: str, source: str = "TOML") -> Document:
    """A document from TOML text, validated (ConfigurationError names the problem)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source} is not valid TOML: {exc}") from exc
    unknown = sorted(set(document) - set(TABLES))
    if unknown:
        raise ConfigurationError(f"{source}: unknown top-level table(s) {', '.join(unknown)}",
                                 hint=f"expected {', '.join(TABLES)}")
    for table in ("routing", "pools", "agents"):  # an empty table is not written out
        document.setdefault(table, {})
    validated(document, source)
    return document
