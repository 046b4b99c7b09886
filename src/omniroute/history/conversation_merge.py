"""The conversation merge of a sink batch: one statement for all its conversations.

The batch plan folds each conversation's events into one
:class:`~omniroute.history.projection.ConversationPatch`. The patches travel as
rows of one array; one statement merges those whose row exists (a hash join of the
patches with ``conversations``) and inserts the others. A row another sink
inserted after this statement's snapshot (two owners of one partition during a
rebalance) is neither updated nor inserted: :func:`write_conversations` merges
such patches again, now that the row is visible.

An erased customer's conversation keeps its anonymous id: an event the router
wrote about it after the erase (it revokes the conversation from its agent)
names the customer id it had, and put it back until 2026-12-07. Such an event's
log row, rating and the customer row it filed are made anonymous in the same
transaction (:func:`omniroute.history.store.apply_plan`): in user run 58 the
worker's own end of the conversation reached the sink after ``customers erase``
had swept, and left the erased id on a customer row and an event row.
"""

from __future__ import annotations

import json

import asyncpg

from omniroute.history.erase_requests import ANONYMOUS_PREFIX
from omniroute.history.projection import ConversationPatch


async def write_conversations(conn: asyncpg.Connection,
                              patches: list[ConversationPatch]) -> list[tuple[str, str, str]]:
    """Merge each patch into its row or insert it: one statement (a retry only after a race).

    Returns ``(conversation, customer id the patch named, anonymous id the row keeps)`` for
    the erased customers' conversations whose patch named another id (an event written
    after the erase)."""
    erased: list[tuple[str, str, str]] = []
    if not patches:
        return erased
    named = {p.conversation_id: p.customer_id for p in patches}
    pending = patches
    for _ in range(3):
        patches_of = [
            (p.conversation_id, p.workspace, p.customer_id, p.status, p.channel, p.pool,
             p.agent_id, p.opened_at, p.resolved_at, p.last_message_at, p.merged_into,
             json.dumps(p.tags) if p.tags else None, json.dumps(p.triage) if p.triage else None,
             p.updated_at, p.agent_set, p.channel_hint) for p in pending]
        rows = await conn.fetch(_MERGE_CONVERSATIONS, patches_of)
        done = {r[0] for r in rows}
        erased += [(r[0], named[r[0]], r[1]) for r in rows
                   if r[1].startswith(ANONYMOUS_PREFIX) and named[r[0]] != r[1]]
        # A conversation another sink inserted after our UPDATE looked (a rebalance) is
        # neither updated nor inserted by this statement: merge it again, now that it exists.
        pending = [p for p in pending if p.conversation_id not in done]
        if not pending:
            return erased
    raise RuntimeError(f"conversations kept racing: {[p.conversation_id for p in pending]}")


_PATCHES = "SELECT * FROM unnest($1::conversation_patch_v2[]) AS p"
"""The patches, one array of rows (migrations 0015 and 0021; see
:mod:`omniroute.history.staging`)."""

_MERGE_CONVERSATIONS = f"""
WITH s AS MATERIALIZED ({_PATCHES}),
updated AS (
  UPDATE conversations c SET customer_id = CASE WHEN c.customer_id LIKE '{ANONYMOUS_PREFIX}%'
                                           THEN c.customer_id ELSE s.customer_id END,
    status = COALESCE(s.status, c.status),
    channel = COALESCE(s.channel, c.channel, s.channel_hint),
    pool = COALESCE(s.pool, c.pool),
    agent_id = CASE WHEN s.agent_set THEN s.agent_id ELSE c.agent_id END,
    opened_at = LEAST(c.opened_at, s.opened_at),
    resolved_at = CASE WHEN s.status = 'open' THEN NULL
                       ELSE COALESCE(s.resolved_at, c.resolved_at) END,
    last_message_at = GREATEST(c.last_message_at, s.last_message_at),
    merged_into = COALESCE(s.merged_into, c.merged_into),
    tags = CASE WHEN s.tags IS NULL THEN c.tags ELSE ARRAY(SELECT DISTINCT unnest(
      c.tags || ARRAY(SELECT jsonb_array_elements_text(s.tags::jsonb)))) END,
    triage = CASE WHEN s.triage IS NULL THEN c.triage ELSE c.triage || s.triage::jsonb END,
    updated_at = GREATEST(c.updated_at, s.updated_at)
  FROM s WHERE c.conversation_id = s.conversation_id
  RETURNING c.conversation_id, c.customer_id),
inserted AS (
  INSERT INTO conversations (conversation_id, workspace, customer_id, status, channel, pool,
    agent_id, opened_at, resolved_at, last_message_at, merged_into, tags, triage, updated_at)
  SELECT s.conversation_id, s.workspace, s.customer_id, COALESCE(s.status, 'open'),
    COALESCE(s.channel, s.channel_hint), s.pool, s.agent_id, s.opened_at, s.resolved_at,
    s.last_message_at, s.merged_into,
    CASE WHEN s.tags IS NULL THEN '{{}}'::text[]
         ELSE ARRAY(SELECT DISTINCT jsonb_array_elements_text(s.tags::jsonb)) END,
    COALESCE(s.triage::jsonb, '{{}}'::jsonb), s.updated_at
  FROM s WHERE NOT EXISTS (SELECT 1 FROM updated u WHERE u.conversation_id = s.conversation_id)
  ON CONFLICT (conversation_id) DO NOTHING
  RETURNING conversation_id, customer_id)
SELECT conversation_id, customer_id FROM updated
UNION ALL SELECT conversation_id, customer_id FROM inserted
"""
"""One patch per conversation (the batch plan folds them): merged into its row if there is one
(a hash join of the patches with the table), else inserted. A row another transaction inserts
meanwhile makes the insert do nothing for it; the caller sees it missing and merges again."""
