"""Live routing configuration: versioned admin events every router instance applies.

The whole configuration (pools with their policies, agents, rules, default pool:
:meth:`RoutingConfig.document`) is one event on ``omniroute.internal.routing-config``
(one partition, kept forever: it is the audit trail), key ``routing``, value::

    {"document": {...}, "actor": "ada", "reason": "...", "at": 1767225600.0,
     "retired": ["old-pool"]}

Its **version** is its offset + 1: unique and increasing without a read-modify-write
race between two admins. Nothing published yet means version 0 and the built-in
configuration (:data:`omniroute.routing.config.BUILTIN`).

Applied without restart: every router process follows the topic
(:class:`LiveConfig`) to choose pools for requests and agent events. Each
version becomes a ``configure`` input of every pool, written by the publisher
right after the version and again, exactly once in its transaction, by the
repartition loop that owns the topic's partition; a pool applies a version
newer than the one it has and ignores the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from omniroute.errors import ConfigurationError
from omniroute.observability.logs import get_logger
from omniroute.routing.config import BUILTIN, RoutingConfig, parse_config
from omniroute.routing.document import changes
from omniroute.routing.requests import TOPIC as REQUESTS
from omniroute.routing.requests import RoutingRequest, RoutingRequestKind
from omniroute.routing.wire import Record, configure_record
from omniroute.settings import Settings

CONFIG_TOPIC = "omniroute.internal.routing-config"
KEY = b"routing"
log = get_logger("omniroute.router")


@dataclass(frozen=True)
class ConfigVersion:
    """One published configuration: who changed it, when, why, and what it is."""

    version: int
    at: float
    actor: str
    reason: str
    config: RoutingConfig
    retired: tuple[str, ...] = ()


def encode(config: RoutingConfig, *, actor: str, reason: str, at: float,
           retired: tuple[str, ...] = ()) -> bytes:
    """The record value of a configuration version."""
    return json.dumps({"document": config.document(), "actor": actor, "reason": reason,
                       "at": at, "retired": list(retired)}, separators=(",", ":")).encode()


def decode(value: bytes, offset: int) -> ConfigVersion:
    """A configuration version from its record (raises ConfigurationError/ValueError)."""
    raw: dict[str, Any] = json.loads(value)
    config = parse_config(raw["document"], f"routing-config version {offset + 1}")
    return ConfigVersion(offset + 1, float(raw.get("at", 0)), str(raw.get("actor", "")),
                         str(raw.get("reason", "")), config, tuple(raw.get("retired", ())))


def configure_records(version: ConfigVersion, at: float) -> list[Record]:
    """A configuration version as a ``configure`` input of every pool it names or retires."""
    config = version.config
    records = [configure_record(pool, config.pool_document(pool), at, version.version)
               for pool in sorted(config.pools)]
    records += [configure_record(pool, {"policy": {}, "agents": {}}, at, version.version)
                for pool in version.retired if pool not in config.pools]
    return records


async def history(settings: Settings) -> list[ConfigVersion]:
    """Every readable configuration version, oldest first (the audit trail)."""
    tp = TopicPartition(settings.topic(CONFIG_TOPIC), 0)
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                              enable_auto_commit=False, isolation_level="read_committed")
    found: list[ConfigVersion] = []
    try:
        await reader.start()
        if tp.topic not in await reader.topics():  # nothing was ever published
            return found
        reader.assign([tp])
        await reader.seek_to_beginning(tp)
        end = (await reader.end_offsets([tp]))[tp]
        while await reader.position(tp) < end:
            for records in (await reader.getmany(tp, timeout_ms=500)).values():
                found.extend(v for r in records if (v := _readable(r.value, r.offset)))
    finally:
        await reader.stop()
    return found


def _readable(value: bytes | None, offset: int) -> ConfigVersion | None:
    try:
        return decode(value or b"", offset)
    except Exception as exc:  # a bad record is skipped, loudly: the previous one stays
        log.warning("router.config_unreadable", offset=offset, error=str(exc))
        return None


async def read_config(settings: Settings) -> tuple[int, RoutingConfig]:
    """The latest configuration and its version; ``(0, BUILTIN)`` when none was published."""
    return latest(await history(settings))


def latest(versions: list[ConfigVersion]) -> tuple[int, RoutingConfig]:
    """The live version and configuration of ``versions`` (:func:`history`)."""
    return (versions[-1].version, versions[-1].config) if versions else (0, BUILTIN)


async def publish_config(settings: Settings, config: RoutingConfig, *, actor: str,
                         reason: str = "", previous: RoutingConfig | None = None) -> int:
    """Publish ``config`` as the new live configuration; returns its version. Pools the
    current configuration (``previous``, read from the topic when not given) has and
    ``config`` lacks are retired (their agents leave)."""
    if previous is None:
        _, previous = await read_config(settings)
    retired = tuple(sorted(set(previous.pools) - set(config.pools)))
    value = encode(config, actor=actor, reason=reason, at=time.time(), retired=retired)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:
        sent = await producer.send_and_wait(settings.topic(CONFIG_TOPIC), value, key=KEY,
                                            partition=0)
        version = ConfigVersion(int(sent.offset) + 1, 0.0, actor, reason, config, retired)
        # straight into the pool streams too, so inputs the routers translate with this
        # version meet it there; the repartition loop writes the same (applied once) in
        # its transaction should this process stop half-way
        for topic, key, record in configure_records(version, time.time()):
            await producer.send_and_wait(settings.topic(topic), record, key=key)
    finally:
        await producer.stop()
    log.info("router.config_published", version=version.version, actor=actor, reason=reason,
             pools=sorted(config.pools), agents=len(config.agents))
    return version.version


def find_version(versions: list[ConfigVersion], version: int) -> ConfigVersion:
    """Version ``version`` of ``versions`` (:func:`history`); ConfigurationError naming
    the versions there are when it is not among them."""
    found = next((v for v in versions if v.version == version), None)
    if found is None:
        known = f"v1 to v{versions[-1].version}" if versions else "no version yet"
        raise ConfigurationError(f"no routing configuration version {version} to restore "
                                 f"(the history has {known}: omniroute router history)")
    return found


def rollback_reason(version: int, reason: str = "") -> str:
    """The reason a restored version is published with: ``rollback to vN: why``."""
    return f"rollback to v{version}" + (f": {reason}" if reason else "")


async def restore(settings: Settings, version: int, *, actor: str,
                  reason: str = "") -> tuple[int, list[str]]:
    """Publish configuration ``version`` again, as the new live version (a rollback);
    returns the new version and what it changes against the live one, in words
    (:func:`omniroute.routing.document.changes`). ConfigurationError for a version the
    history lacks. The history is read once."""
    versions = await history(settings)
    found = find_version(versions, version)
    live = versions[-1].config
    told = changes(live.document(), found.config.document())
    new = await publish_config(settings, found.config, actor=actor,
                               reason=rollback_reason(version, reason), previous=live)
    return new, told


async def reroute(settings: Settings, request: RoutingRequest) -> None:
    """Route a (parked) conversation again: a routing request with a fresh event id."""
    if request.kind is not RoutingRequestKind.ROUTE:
        raise ValueError("a re-route is a routing request of kind 'route'")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(REQUESTS), request.to_json_bytes(),
                                     key=request.conversation_id.encode())
    finally:
        await producer.stop()


class LiveConfig:
    """The latest configuration as one router process knows it (follows the topic)."""

    def __init__(self, config: RoutingConfig = BUILTIN, version: int = 0) -> None:
        self.config = config
        self.version = version
        self.at = 0.0
        """When :attr:`version` was published (Unix seconds; 0 before one was read)."""
        self.ready = asyncio.Event()
        self._reader: AIOKafkaConsumer | None = None
        self._tp: TopicPartition | None = None
        self._position = 0
        """The follower's next offset: everything before it was offered."""
        self._moved = asyncio.Condition()

    def offer(self, candidate: ConfigVersion) -> bool:
        """Take ``candidate`` if it is newer; whether it was."""
        if candidate.version <= self.version:
            return False
        self.config, self.version, self.at = candidate.config, candidate.version, candidate.at
        log.info("router.config_applied", version=candidate.version, actor=candidate.actor,
                 pools=sorted(candidate.config.pools))
        return True

    async def follow(self, settings: Settings, stop: asyncio.Event) -> None:
        """Read every version, set :attr:`ready` once caught up, then keep up until ``stop``."""
        tp = TopicPartition(settings.topic(CONFIG_TOPIC), 0)
        reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                                  enable_auto_commit=False, isolation_level="read_committed",
                                  fetch_max_wait_ms=100)
        await reader.start()
        try:
            reader.assign([tp])
            await reader.seek_to_beginning(tp)
            self._reader, self._tp = reader, tp
            end = (await reader.end_offsets([tp]))[tp]
            while not stop.is_set():
                for records in (await reader.getmany(tp, timeout_ms=200)).values():
                    for record in records:
                        if (found := _readable(record.value, record.offset)) is not None:
                            self.offer(found)
                self._position = await reader.position(tp)
                async with self._moved:
                    self._moved.notify_all()
                if not self.ready.is_set() and self._position >= end:
                    self.ready.set()
        finally:
            self._reader = None
            async with self._moved:
                self._moved.notify_all()
            await reader.stop()

    async def catch_up(self, timeout: float = 2.0) -> bool:
        """Wait (up to ``timeout`` seconds) until :meth:`follow` has read every version
        published before this call; whether that changed the live version. For a request
        the live configuration would park: a supervisor who saved a version and re-routed
        at once gets it routed by that version, not parked again because this process
        read the request before the version (one broker round trip; False without a
        follower)."""
        reader, tp = self._reader, self._tp
        if reader is None or tp is None:
            return False
        before = self.version
        end = (await reader.end_offsets([tp]))[tp]
        async with self._moved:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._moved.wait_for(
                    lambda: self._position >= end or self._reader is not reader), timeout)
        return self.version != before
