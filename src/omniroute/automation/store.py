"""Live rules: a compacted topic every worker reads in full (the admin API and CLI write it).

``omniroute.internal.automation-rules``, key workspace, value ``{"rules": [...]}``
(a list of rule documents, see :mod:`.rules`); an empty list removes the
workspace's live rules (the file's rules apply again). Each worker follows the
whole topic with a group-less consumer, so every process applies a change
within a second, and a restart reads the latest value of each workspace.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from omniroute.automation.rules import Rule, RuleError, parse_rules
from omniroute.errors import BrokerError
from omniroute.observability.logs import get_logger
from omniroute.settings import Settings

RULES_TOPIC = "omniroute.internal.automation-rules"
log = get_logger("omniroute.automation")


def rules_value(rules: list[dict[str, Any]]) -> bytes:
    """The record value for a workspace's rules, validated first (RuleError if malformed)."""
    parse_rules(rules)
    return json.dumps({"rules": rules}, ensure_ascii=False, separators=(",", ":")).encode()


def decode(value: bytes | None) -> list[dict[str, Any]]:
    """The rule documents of a record value (a tombstone or empty list: none)."""
    if not value:
        return []
    rules = json.loads(value).get("rules", [])
    return list(rules) if isinstance(rules, list) else []


async def publish_rules(settings: Settings, workspace: str,
                        rules: list[dict[str, Any]]) -> None:
    """Replace the live rules of ``workspace`` (validated; acknowledged by every replica)."""
    value = rules_value(rules)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                                enable_idempotence=True)
    try:
        await producer.start()
        await producer.send_and_wait(settings.topic(RULES_TOPIC), value,
                                     key=workspace.encode())
    except KafkaError as exc:
        raise BrokerError(f"cannot publish rules to Kafka: {exc}") from exc
    finally:
        await producer.stop()


async def read_rules(settings: Settings, timeout: float = 10.0) -> dict[str, list[dict[str, Any]]]:
    """Every workspace's live rules (the latest record per workspace)."""
    found: dict[str, list[dict[str, Any]]] = {}
    consumer = AIOKafkaConsumer(settings.topic(RULES_TOPIC),
                                bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    try:
        await consumer.start()
        await consumer.seek_to_beginning()
        partitions = consumer.assignment()
        ends = await consumer.end_offsets(list(partitions))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            behind = [tp for tp, end in ends.items() if await consumer.position(tp) < end]
            if not behind:
                break
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    found[record.key.decode()] = decode(record.value)
    except KafkaError as exc:
        raise BrokerError(f"cannot read rules from Kafka: {exc}") from exc
    finally:
        await consumer.stop()
    return {ws: rules for ws, rules in found.items() if rules}


async def follow_rules(settings: Settings, apply: Callable[[str, tuple[Rule, ...] | None], None],
                       ) -> None:
    """Apply every record of the rules topic as it arrives (forever; run it as a task)."""
    consumer = AIOKafkaConsumer(settings.topic(RULES_TOPIC),
                                bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                metadata_max_age_ms=5000)
    await consumer.start()
    try:
        while True:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    workspace = record.key.decode() if record.key else ""
                    try:
                        rules = parse_rules(decode(record.value))
                    except (RuleError, ValueError, TypeError) as exc:
                        log.warning("live_rules_rejected", workspace=workspace, error=str(exc))
                        continue
                    apply(workspace, rules or None)
                    log.info("live_rules_applied", workspace=workspace, rules=len(rules))
    finally:
        await consumer.stop()
