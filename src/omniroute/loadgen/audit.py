"""What became of a run's messages, read from the public topics and the history database.

Everything is read the way a consumer of the contract reads it: the public
topics with ``read_committed`` up to their end offsets, and the sink's tables.
The verdicts (each a list of offenders, empty when the invariant holds):

- **lost**: acknowledged by the ingress, never added to a conversation;
- **duplicated**: added more than once (under different event ids), or stored
  twice in history;
- **split**: a customer whose messages are in more than one conversation
  (merges followed to their survivor);
- **double_assigned**: a conversation assigned to a second agent while the
  first still held it (no revoke or unassign between);
- **unrouted**: an open conversation never assigned;
- **history_missing**: an added message absent from PostgreSQL's ``messages``, or stored
  without the conversation it was added to.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from omniroute.contract import AssignmentEvent, ConversationEvent

TOKEN = re.compile(r"\bsoak (\S+) ")


@dataclass
class Findings:
    """The audit of one run: counts seen and every invariant's offenders."""

    acknowledged: int = 0
    added: int = 0
    conversations: int = 0
    customers: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    split: list[int] = field(default_factory=list)
    double_assigned: list[str] = field(default_factory=list)
    unrouted: list[str] = field(default_factory=list)
    history_missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return not (self.lost or self.duplicated or self.split or self.double_assigned
                    or self.unrouted or self.history_missing)

    def summary(self) -> str:
        """One line of figures."""
        return (f"acknowledged {self.acknowledged}, added {self.added}, conversations "
                f"{self.conversations} for {self.customers} customers; lost {len(self.lost)}, "
                f"duplicated {len(self.duplicated)}, split {len(self.split)}, double-assigned "
                f"{len(self.double_assigned)}, unrouted {len(self.unrouted)}, missing from "
                f"history {len(self.history_missing)}")


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every committed record of ``topic`` up to its end offsets now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"])
                  for t in described for p in t.get("partitions") or ()]
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed", auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


@dataclass
class Observed:
    """The public topics' view of one workspace."""

    tokens: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    """token → message_added event ids."""
    token_conversation: dict[str, str] = field(default_factory=dict)
    merged: dict[str, str] = field(default_factory=dict)
    resolved: set[str] = field(default_factory=set)
    assigned: set[str] = field(default_factory=set)
    double_assigned: set[str] = field(default_factory=set)

    def final(self, conversation: str) -> str:
        """The conversation a merge chain ends in."""
        seen = set()
        while conversation in self.merged and conversation not in seen:
            seen.add(conversation)
            conversation = self.merged[conversation]
        return conversation


def observe(conversation_events: list[ConversationEvent],
            assignment_events: list[AssignmentEvent]) -> Observed:
    """Fold the topics' events (pure)."""
    seen = Observed()
    for event in conversation_events:
        if event.kind == "message_added" and event.message and event.message.text:
            match = TOKEN.search(event.message.text)
            if match:
                seen.tokens[match.group(1)].add(event.event_id)
                seen.token_conversation[match.group(1)] = event.conversation_id
        elif event.kind == "merged" and event.merged_into:
            seen.merged[event.conversation_id] = event.merged_into
        elif event.kind == "resolved":
            seen.resolved.add(event.conversation_id)
    holders: dict[str, str | None] = {}
    for assignment in sorted(assignment_events, key=lambda a: a.occurred_at):
        conversation = assignment.conversation_id
        if conversation is None:
            continue
        if assignment.kind == "assigned":
            seen.assigned.add(conversation)
            holder = holders.get(conversation)
            if holder is not None and holder != assignment.agent_id:
                seen.double_assigned.add(conversation)
            holders[conversation] = assignment.agent_id
        elif (assignment.kind in ("revoked", "completed")
              and holders.get(conversation) == assignment.agent_id):
            holders[conversation] = None
    return seen


def judge(observed: Observed, acknowledged: set[str], owner: dict[str, int],
          stored: dict[str, list[str | None]]) -> Findings:
    """The verdicts, from what was observed (pure).

    ``owner`` maps every token to its customer; ``stored`` lists, per token, the
    conversation id of each of its inbound rows in history.
    """
    findings = Findings(acknowledged=len(acknowledged), added=len(observed.tokens))
    findings.lost = sorted(acknowledged - set(observed.tokens))
    findings.duplicated = sorted({t for t, ids in observed.tokens.items() if len(ids) > 1}
                                 | {t for t, rows in stored.items() if len(rows) > 1})
    per_customer: dict[int, set[str]] = defaultdict(set)
    for token, conversation in observed.token_conversation.items():
        per_customer[owner[token]].add(observed.final(conversation))
    findings.split = sorted(c for c, convs in per_customer.items() if len(convs) > 1)
    finals = {c for convs in per_customer.values() for c in convs}
    findings.conversations, findings.customers = len(finals), len(per_customer)
    findings.double_assigned = sorted(observed.double_assigned)
    findings.unrouted = sorted(c for c in finals
                               if c not in observed.assigned and c not in observed.resolved)
    findings.history_missing = sorted(
        t for t in observed.tokens
        if observed.token_conversation[t] not in (stored.get(t) or []))
    return findings


async def stored_tokens(database_url: str, workspace: str) -> dict[str, list[str | None]]:
    """The conversation id of each inbound history row, per token."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT text, conversation_id FROM messages "
            "WHERE workspace = $1 AND direction = 'inbound'", workspace)
    finally:
        await connection.close()
    found: dict[str, list[str | None]] = defaultdict(list)
    for row in rows:
        match = TOKEN.search(row["text"] or "")
        if match:
            found[match.group(1)].append(row["conversation_id"])
    return found


async def audit(bootstrap: str, topic: Any, database_url: str, workspace: str,
                acknowledged: set[str], owner: dict[str, int]) -> Findings:
    """Read the topics (``topic(name)`` namespaces a name) and the database; judge."""
    conversation_records, assignment_records = await asyncio.gather(
        read_topic(bootstrap, topic("omniroute.conversations.v1")),
        read_topic(bootstrap, topic("omniroute.assignments.v1")))
    conversations = [ConversationEvent.from_json_bytes(r.value) for r in conversation_records]
    assignments = [AssignmentEvent.from_json_bytes(r.value) for r in assignment_records]
    observed = observe([e for e in conversations if e.workspace == workspace],
                       [a for a in assignments if a.workspace == workspace])
    return judge(observed, acknowledged, owner, await stored_tokens(database_url, workspace))
