"""A bound on how long any topic keeps personal data: retention, and compaction lag.

Append-only topics (inbound and outbound messages, conversation events, dead
letters, the worker's internal inputs, ...) cannot be rewritten, so an erased
customer's records stay in them until Kafka deletes them. This module makes
that a promise with a date (``OMNIROUTE_PERSONAL_DATA_RETENTION_SECONDS``,
default 28 days, inside GDPR's one month):

- every owned topic that is not compacted gets ``retention.ms`` = the bound
  (or its own, when shorter: typing indicators keep 60 s) and ``segment.ms`` ≤
  one day, so a segment rolls and ages out within the bound;
- every compacted topic (public, internal, faust changelogs) gets
  ``max.compaction.lag.ms`` = the bound: a value superseded or tombstoned (by
  erase) is compacted away within it, even in a quiet partition;
- exempt (:data:`KEPT`): the live routing configuration (its audit trail,
  no customer data). The router's pool input log is bounded like any other:
  the router snapshots every partition at least every 5,000 inputs, and its
  once-a-second ticks are inputs, so a running router never needs anything
  older than about 83 minutes (docs/privacy.md).

:func:`topic_configs` is applied when a topic is created
(:func:`omniroute.infra.topics.create_topics`); :func:`enforce` sets it on topics
that exist (``omniroute customers erase`` runs it first). :func:`gone_by`
says when a record is gone at the latest.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from omniroute.errors import BrokerError
from omniroute.settings import Settings

DAY_MS = 24 * 3600 * 1000
KEPT = ("omniroute.internal.routing-config",)
"""Topics left as declared (see the module docstring)."""
RETENTION_CHECK_MS = 300_000
"""Kafka's ``log.retention.check.interval.ms`` default: deletion runs that often."""


def bound_ms(settings: Settings) -> int:
    """The configured bound, in milliseconds."""
    return int(settings.personal_data_retention_seconds * 1000)


def topic_configs(settings: Settings, name: str, configs: dict[str, str]) -> dict[str, str]:
    """``configs`` of topic ``name`` (before namespacing) with the bound applied."""
    base = name.removeprefix(settings.topic_namespace)
    if base in KEPT or not base.startswith("omniroute"):
        return dict(configs)
    bound = bound_ms(settings)
    out = dict(configs)
    segment = min(bound, DAY_MS, _ms(out.get("segment.ms")) or DAY_MS)
    if "compact" in out.get("cleanup.policy", "") or base.endswith("-changelog"):
        lag = _ms(out.get("max.compaction.lag.ms"))
        out["max.compaction.lag.ms"] = str(min(bound, lag) if lag else bound)
    else:
        current = _ms(out.get("retention.ms"))
        out["retention.ms"] = str(min(bound, current) if current and current > 0 else bound)
    out["segment.ms"] = str(segment)
    return out


def _ms(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def gone_by(newest: datetime, configs: dict[str, str]) -> datetime | None:
    """When Kafka has deleted a record written at ``newest`` at the latest: its segment
    may take ``segment.ms`` to stop growing, then ages out after ``retention.ms``,
    and deletion runs every :data:`RETENTION_CHECK_MS`. None: kept forever."""
    segment = _ms(configs.get("segment.ms")) or 7 * DAY_MS
    retention = _ms(configs.get("retention.ms")) or 7 * DAY_MS
    if retention < 0:
        return None
    return newest + timedelta(milliseconds=segment + retention + RETENTION_CHECK_MS)


async def describe(settings: Settings, topics: list[str]) -> dict[str, dict[str, str]]:
    """The explicitly set (non-default) configs of each of ``topics`` (full names)."""
    if not topics:
        return {}
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        await admin.start()
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    except KafkaError as exc:
        raise BrokerError(f"cannot describe topics at {settings.kafka_bootstrap}: {exc}") from exc
    finally:
        await admin.close()
    found: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            name, entries = resource[3], resource[4]
            found[name] = {e[0]: e[1] for e in entries if e[1] is not None and not _default(e)}
    return found


def _default(entry: tuple[object, ...]) -> bool:
    """A describe-configs entry that is the broker's default (v0: is_default; v1+: source)."""
    source = entry[3]
    return bool(source) if isinstance(source, bool) else source not in (1,)


async def set_topic_configs(settings: Settings, wanted: dict[str, dict[str, str]]) -> None:
    """Merge ``wanted`` (topic before namespacing → configs) into the topics' own configs."""
    names = {settings.topic(t): c for t, c in wanted.items()}
    current = await describe(settings, list(names))
    resources = [ConfigResource(ConfigResourceType.TOPIC, name, {**current.get(name, {}), **c})
                 for name, c in names.items() if c and current.get(name, {}) != {
                     **current.get(name, {}), **c}]
    if not resources:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        await admin.start()
        for response in await admin.alter_configs(resources):
            for resource in response.resources:
                if resource[0]:
                    raise BrokerError(f"cannot set configs of {resource[3]}: {resource[1]}")
    except KafkaError as exc:
        raise BrokerError(f"cannot alter topics at {settings.kafka_bootstrap}: {exc}") from exc
    finally:
        await admin.close()


async def enforce(settings: Settings) -> dict[str, dict[str, str]]:
    """Apply the bound to every owned topic that exists; topic → its configs now."""
    from omniroute.history.topic_erasure import owned_topics

    partitions, compacted = await owned_topics(settings)
    current = await describe(settings, sorted(partitions))
    wanted: dict[str, dict[str, str]] = {}
    for topic in sorted(partitions):
        configs = dict(current.get(topic, {}))
        if topic in compacted and topic.endswith("-changelog"):
            configs.setdefault("cleanup.policy", "compact")
        wanted[topic] = topic_configs(settings, topic, configs)
    changed = {t.removeprefix(settings.topic_namespace): c for t, c in wanted.items()
               if c != current.get(t, {})}
    await set_topic_configs(settings, changed)
    return wanted
