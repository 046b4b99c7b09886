"""What the gateway reads from PostgreSQL (written there by the sink), and nothing it writes.

The only rows the gateway changes directly are admin data: agent tokens and
canned responses (see :mod:`omniroute.gateway.admin`). Conversation state is
read here and changed only through Kafka events.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from omniroute.automation.proactive import proactive_rows
from omniroute.contract import Channel
from omniroute.contract.inbound import ThreadHints
from omniroute.conversations.mailthread import reply_thread
from omniroute.gateway.auth import Principal, Role
from omniroute.gateway.commands import ConversationRef, Route
from omniroute.history.privacy import MERGED_INTO
from omniroute.routing.config import RoutingConfig
from omniroute.routing.timers import OFFER_TIMED_OUT


def _plain(record: asyncpg.Record | None) -> dict[str, Any] | None:
    if record is None:
        return None
    row = dict(record)
    for key, value in row.items():
        if key in ("content", "triage", "decision", "last_content", "preview_content") \
                and isinstance(value, str):
            row[key] = json.loads(value)
        elif hasattr(value, "isoformat"):
            row[key] = value.isoformat()
    return row


def _plain_all(records: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [r for r in (_plain(x) for x in records) if r is not None]


async def principal(pool: asyncpg.Pool, token_hash: str) -> Principal | str:
    """The agent a token belongs to, or why it is refused (unknown, revoked, expired)."""
    row = await pool.fetchrow(
        "SELECT agent_id, role, revoked_at, expires_at, expires_at <= now() AS expired "
        "FROM agent_tokens WHERE token_hash = $1", token_hash)
    if row is None:
        return "unknown token"
    if row["revoked_at"] is not None:
        return f"token revoked at {row['revoked_at'].isoformat()}"
    if row["expired"]:
        return f"token expired at {row['expires_at'].isoformat()}"
    return Principal(row["agent_id"], Role(row["role"]))


async def conversation_ref(pool: asyncpg.Pool, conversation_id: str) -> ConversationRef | None:
    """The conversation's customer and workspace, or None when history has no such one."""
    row = await pool.fetchrow(
        "SELECT conversation_id, customer_id, workspace FROM conversations "
        "WHERE conversation_id = $1", conversation_id)
    return ConversationRef(row["conversation_id"], row["customer_id"], row["workspace"]) \
        if row else None


async def holder(pool: asyncpg.Pool, conversation_id: str) -> str | None:
    """The agent the conversation is assigned to now, if any."""
    value: str | None = await pool.fetchval(
        "SELECT agent_id FROM conversation_assignments "
        "WHERE conversation_id = $1 AND state = 'assigned'", conversation_id)
    return value


async def attachment(pool: asyncpg.Pool, conversation_id: str, message_id: str,
                     position: int) -> dict[str, Any] | None:
    """Attachment ``position`` of message ``message_id`` with its message's direction,
    provider, channel and account, when that message is in the conversation (or a
    conversation folded into it); else None."""
    return _plain(await pool.fetchrow(
        """SELECT m.direction, m.provider, m.channel, m.channel_account, a.kind, a.url,
                  a.media_id, a.content_type, a.filename, a.size_bytes
           FROM messages m JOIN attachments a ON a.message_id = m.message_id
           WHERE m.message_id = $2 AND a.position = $3
             AND m.conversation_id = ANY(conversation_thread($1))
           LIMIT 1""", conversation_id, message_id, position))


ACTIVITY_KINDS = ("assigned", "unassigned", "transferred", "resolved", "reopened", "parked",
                  "rerouted", "escalated", "sla_breached")
ACTIVITY_SQL = f"""
SELECT e.occurred_at, e.kind, e.agent_id, e.pool, e.reason,
       CASE WHEN e.kind = 'transferred' THEN (
         SELECT a.agent_id FROM conversation_events a
         WHERE a.conversation_id = e.conversation_id AND a.kind = 'assigned'
           AND a.occurred_at <= e.occurred_at
         ORDER BY a.occurred_at DESC LIMIT 1) END AS from_agent,
       CASE WHEN e.kind = 'transferred' AND e.agent_id IS NULL THEN (
         SELECT o.pool FROM assignments o
         WHERE o.conversation_id = e.conversation_id AND o.kind IN ('offered', 'assigned')
           AND o.occurred_at >= e.occurred_at
         ORDER BY o.occurred_at LIMIT 1) END AS to_pool
FROM conversation_events e
WHERE e.conversation_id = ANY(conversation_thread($1))
  AND e.kind IN ({", ".join(f"'{k}'" for k in ACTIVITY_KINDS)})
ORDER BY e.occurred_at, e.kind <> 'reopened', e.event_id
LIMIT 500"""
"""What happened to a conversation besides its messages, for the agent who reads it: who
held it, who transferred it (the holder before the transfer) and to which pool (the pool of
the first offer after it; null while nobody was offered it there), resolutions, reopenings, the
router's parking and moves, escalations and missed SLA targets (user run 42: bo, given a
conversation jun had transferred to billing, saw nothing of jun or the transfer)."""


async def conversation_view(pool: asyncpg.Pool, conversation_id: str) -> dict[str, Any]:
    """The conversation, its messages on every channel, notes, ratings, activity, customer and
    past conversations.

    The messages include the proactive ones sent to the customer's addresses since their
    previous conversation opened, until this one was resolved: they start no conversation
    of their own in history (``prc_…``), and the customer's answer opens a new one, whose
    agent read the answer without what it answered (user run 45: "Thanks! When will
    ORD-9911 arrive?" after an ``order_shipped`` template nobody could see)."""
    conv = _plain(await pool.fetchrow(
        "SELECT * FROM conversations WHERE conversation_id = $1", conversation_id))
    assert conv is not None
    customer_id = conv["customer_id"]
    messages = _plain_all(await pool.fetch(
        f"""WITH this AS (
             SELECT c.customer_id,
                    coalesce((SELECT max(p.opened_at) FROM conversations p
                              WHERE p.customer_id = c.customer_id
                                AND p.opened_at < c.opened_at), '-infinity') AS since,
                    CASE WHEN c.status = 'resolved' THEN c.resolved_at
                         ELSE 'infinity' END AS until
             FROM conversations c WHERE c.conversation_id = $1),
           picked AS (
             SELECT m.* FROM messages m WHERE m.conversation_id = ANY(conversation_thread($1))
             UNION ALL  -- proactive messages, by recipient (migration 0022's index)
             SELECT m.* FROM this
             JOIN customer_addresses a ON a.customer_id = this.customer_id
             JOIN messages m ON m.channel = a.channel AND m.recipient = a.address
                  AND {proactive_rows('m')} AND m.direction = 'outbound'
                  AND m.created_at > this.since AND m.created_at <= this.until)
           SELECT m.message_id, m.created_at, m.direction, m.channel, m.text, m.author_id,
                  m.sender_name, m.content, d.state AS delivery_state,
                  CASE WHEN d.state IN ('failed', 'queued')
                       THEN coalesce(d.error_message, d.error_code) END AS delivery_error,
                  (SELECT coalesce(jsonb_agg(to_jsonb(a) - 'message_id' - 'created_at'), '[]')
                     FROM attachments a WHERE a.message_id = m.message_id) AS attachments
           FROM picked m
           LEFT JOIN LATERAL (SELECT d.state, d.error_code, d.error_message
                              FROM delivery_statuses d
                              WHERE d.outbound_event_id = m.message_id
                                 OR (m.provider_message_id IS NOT NULL
                                     AND d.provider_message_id = m.provider_message_id)
                              ORDER BY d.rank DESC LIMIT 1) d ON true
           ORDER BY m.created_at, m.message_id""",
        conversation_id))
    for message in messages:
        if isinstance(message.get("attachments"), str):
            message["attachments"] = json.loads(message["attachments"])
    return {
        "conversation": conv,
        "customer": _plain(await pool.fetchrow(
            f"""SELECT cu.customer_id, {customer_name('c')} AS display_name,
                       cu.first_seen_at, cu.last_seen_at
                FROM customers cu JOIN conversations c ON c.conversation_id = $2
                WHERE cu.customer_id = $1""", customer_id, conversation_id)),
        # the customer's addresses, those of the ids identity merged into it, and those
        # that wrote here under an id merged into it
        "addresses": _plain_all(await pool.fetch(
            f"""SELECT channel, address, display_name, last_seen_at FROM (
                 SELECT DISTINCT ON (channel, address) channel, address, display_name,
                        last_seen_at
                 FROM customer_addresses a
                 WHERE customer_id = $1 OR customer_id IN ({MERGED_INTO}) OR EXISTS (
                   SELECT 1 FROM messages m
                   WHERE m.conversation_id = ANY(conversation_thread($2))
                     AND m.direction = 'inbound' AND m.channel = a.channel
                     AND m.sender = a.address)
                 ORDER BY channel, address, (customer_id = $1) DESC) known
               ORDER BY last_seen_at DESC""", customer_id, conversation_id)),
        "messages": messages,
        "notes": _plain_all(await pool.fetch(
            "SELECT agent_id, note, created_at FROM conversation_notes "
            "WHERE conversation_id = $1 ORDER BY created_at", conversation_id)),
        # the customer's survey answers (a rating, then maybe its comment): their messages
        # end no conversation, so without these the agent never saw what the customer said
        "ratings": _plain_all(await pool.fetch(
            "SELECT score, comment, rated_at FROM csat_ratings "
            "WHERE conversation_id = $1 ORDER BY rated_at, event_id", conversation_id)),
        "activity": _plain_all(await pool.fetch(ACTIVITY_SQL, conversation_id)),
        # also those the ids merged into the customer had before the merge
        "past_conversations": _plain_all(await pool.fetch(
            f"""SELECT conversation_id, status, channel, opened_at, resolved_at, tags
               FROM conversations
               WHERE (customer_id = $1 OR customer_id IN ({MERGED_INTO}))
                 AND NOT conversation_id = ANY(conversation_thread($2))
               ORDER BY opened_at DESC LIMIT 50""", customer_id, conversation_id)),
    }


async def reply_route(pool: asyncpg.Pool, ref: ConversationRef,
                      channel: Channel | None) -> Route | None:
    """Where a reply goes: the latest inbound message of the conversation (on ``channel``).

    A reply to an email threads under it (its subject, In-Reply-To and References). With
    a chosen channel the conversation has never used, the customer's latest inbound
    message on that channel in any conversation gives the address, and nothing to thread
    under: that mail is another conversation's.
    """
    sql = """SELECT channel, sender, sender_name, channel_account, content -> 'thread' AS thread
             FROM messages
             WHERE {where} AND direction = 'inbound' AND sender IS NOT NULL
               AND channel_account IS NOT NULL AND ($2::text IS NULL OR channel = $2)
             ORDER BY created_at DESC LIMIT 1"""
    wanted = channel.value if channel else None
    row = await pool.fetchrow(sql.format(where="conversation_id = ANY(conversation_thread($1))"),
                              ref.conversation_id, wanted)
    thread = None
    if row is not None and row["channel"] == Channel.EMAIL.value and row["thread"]:
        thread = reply_thread(ThreadHints.model_validate_json(row["thread"]))
    if row is None and channel is not None:
        row = await pool.fetchrow(sql.format(where="customer_id = $1"), ref.customer_id, wanted)
    if row is None:
        return None
    return Route(Channel(row["channel"]), row["sender"], row["channel_account"],
                 row["sender_name"], thread)


def customer_name(conversation: str) -> str:
    """SQL for the name agents see for the customer of conversation alias ``conversation``
    (``cu``: its customers row): the customer's name, else the latest name a sender gave in
    the conversation (or a conversation merged into it), else the phone number or email
    address they last wrote from (SMS, WhatsApp, email: what Twilio Flex and Zendesk show
    for an unnamed customer; the other channels' addresses are opaque ids). A merge leaves
    the name on the merged-away id: a verified web chat visitor whose first message opened
    the conversation before the link made another of their ids its owner."""
    return f"""coalesce(cu.display_name, (
        SELECT coalesce(n.sender_name, CASE WHEN n.channel = 'whatsapp' AND n.sender ~ '^[0-9]+$'
                                            THEN '+' || n.sender ELSE n.sender END)
        FROM messages n
        WHERE n.conversation_id = ANY(conversation_thread({conversation}.conversation_id))
          AND n.direction = 'inbound'
          AND (n.sender_name IS NOT NULL OR n.channel IN ('sms', 'whatsapp', 'email'))
        ORDER BY n.sender_name IS NULL, n.created_at DESC LIMIT 1))"""


SAID = """jsonb_strip_nulls(jsonb_build_object(
    'location', {m}.content -> 'location',
    'contacts', nullif({m}.content -> 'contacts', '[]'::jsonb),
    'interactive', {m}.content -> 'interactive', 'reaction', {m}.content -> 'reaction'))"""
"""SQL (format ``m``: a messages alias) for what a message carried besides text and
attachments: ``{}`` when nothing."""


SLA_TARGETS = "first_reply|next_reply|resolution"


def sla_breached(conversation: str, since: str) -> str:
    """SQL for the SLA targets (``first_reply``, ``next_reply``, ``resolution``) conversation
    alias ``conversation`` missed at or after ``since`` (automation's ``sla_breached`` events,
    whose reason starts with the target)."""
    return f"""ARRAY(SELECT DISTINCT substring(s.reason FROM '^({SLA_TARGETS}) ')
                  FROM conversation_events s
                  WHERE s.conversation_id = {conversation}.conversation_id
                    AND s.kind = 'sla_breached' AND s.reason ~ '^({SLA_TARGETS}) '
                    AND s.occurred_at >= {since})"""


def last_opened(conversation: str) -> str:
    """SQL for a lateral subquery whose ``at`` is when conversation alias ``conversation``
    was last opened or reopened (its ``opened_at`` without such an event): where its
    current SLA targets, and the work shown for it, start."""
    return f"""(SELECT coalesce(max(o.occurred_at), {conversation}.opened_at) AS at
                FROM conversation_events o
                WHERE o.conversation_id = {conversation}.conversation_id
                  AND o.kind IN ('opened', 'reopened'))"""


def waiting_since(conversation: str, opened: str, thread: bool = True) -> str:
    """SQL for since when the customer of conversation alias ``conversation`` waits: their
    first message since it was last opened or reopened (``opened``: the alias of a
    :func:`last_opened` subquery), else that opening. A reopened conversation waits from its
    reopening, not from the first message it ever had (a user run's board said 8 minutes
    instead of 4). ``thread``: count the conversations folded into it too."""
    mine = (f"ANY(conversation_thread({conversation}.conversation_id))" if thread
            else f"{conversation}.conversation_id")
    return f"""coalesce((SELECT min(m.created_at) FROM messages m
                         WHERE m.conversation_id = {mine} AND m.direction = 'inbound'
                           AND m.created_at >= {opened}.at), {opened}.at)"""


async def conversations_of(pool: asyncpg.Pool, who: Principal) -> list[dict[str, Any]]:
    """The conversations an agent holds (a supervisor: every open one), each with its latest
    message from the customer, a person or the answer bot, not an automatic reply
    (``last_text``, ``last_attachments``, ``last_content``, ``last_direction``,
    ``last_author``, ``last_at``), whether
    the customer waits for an answer (``awaiting_reply``: their latest message is newer than
    the latest one a person or the answer bot wrote; automatic replies do not answer) and
    the SLA targets it missed since it was last opened (``sla_breached``)."""
    base = f"""SELECT c.conversation_id, c.customer_id, c.status, c.channel, c.opened_at,
                     c.last_message_at, c.tags, h.agent_id AS assigned_to,
                     {customer_name('c')} AS customer_name,
                     left(last.text, {LIST_PREVIEW_CHARS}) AS last_text,
                     coalesce(last.kinds, '{{}}') AS last_attachments,
                     coalesce(last.said, '{{}}') AS last_content,
                     last.direction AS last_direction, last.author_id AS last_author,
                     last.created_at AS last_at,
                     coalesce(asked.at > coalesce(answered.at, '-infinity'), false)
                         AS awaiting_reply,
                     {sla_breached('c', 'since.at')} AS sla_breached
              FROM conversations c
              LEFT JOIN conversation_assignments h ON h.conversation_id = c.conversation_id
                AND h.state = 'assigned'
              LEFT JOIN customers cu ON cu.customer_id = c.customer_id
              LEFT JOIN LATERAL (
                  SELECT m.text, m.direction, m.created_at, m.author_id,
                         {SAID.format(m='m')} AS said,
                         ARRAY(SELECT f.kind FROM attachments f WHERE f.message_id = m.message_id
                               ORDER BY f.position) AS kinds
                  FROM messages m
                  WHERE m.conversation_id = ANY(conversation_thread(c.conversation_id))
                    AND (m.direction = 'inbound' OR m.author_id IS NOT NULL)
                  ORDER BY m.created_at DESC LIMIT 1) last ON true
              LEFT JOIN LATERAL (
                  SELECT max(m.created_at) AS at FROM messages m
                  WHERE m.conversation_id = ANY(conversation_thread(c.conversation_id))
                    AND m.direction = 'inbound') asked ON true
              LEFT JOIN LATERAL (
                  SELECT max(m.created_at) AS at FROM messages m
                  WHERE m.conversation_id = ANY(conversation_thread(c.conversation_id))
                    AND m.direction = 'outbound' AND m.author_id IS NOT NULL) answered ON true
              CROSS JOIN LATERAL {last_opened('c')} since"""
    if who.supervisor:
        rows = await pool.fetch(base + " WHERE c.status = 'open' "
                                "ORDER BY c.last_message_at DESC NULLS LAST LIMIT 200")
    else:
        rows = await pool.fetch(base + " WHERE h.agent_id = $1 "
                                "ORDER BY c.last_message_at DESC NULLS LAST", who.agent_id)
    return _plain_all(rows)


OPEN_OFFER = """a.kind = 'offered' AND (a.expires_at IS NULL OR a.expires_at > now())
             AND NOT EXISTS (SELECT 1 FROM assignments b
                             WHERE b.offer_id = a.offer_id
                               AND (b.kind <> 'offered' OR b.occurred_at > a.occurred_at))"""
"""An offer row ``a`` that has not expired and that the router has not answered (assigned,
rejected, rescinded, revoked), in its latest announcement (a router back from a stop
announces its open offers again with their new deadline)."""
UNDECLINED_OFFER = f"""{OPEN_OFFER}
             AND NOT EXISTS (SELECT 1 FROM agent_events e WHERE e.offer_id = a.offer_id
                             AND e.kind = 'decline')"""
""":data:`OPEN_OFFER` that its agent has not declined either (an accept leaves it open until
the router assigns)."""


PREVIEW_CHARS = 200
"""How much of the customer's latest message an offer shows."""
LIST_PREVIEW_CHARS = 120
"""How much of a conversation's latest message the agent's list shows."""


async def pending_offers(pool: asyncpg.Pool, agent_id: str) -> list[dict[str, Any]]:
    """Offers to the agent that are neither answered, ended nor expired, each with what the
    agent decides on: the customer (id and name) and their latest message: the start of its
    text (``preview``), the kinds of its attachments (``preview_attachments``; a photo
    sent alone has no text) and what else it carried (``preview_content``: a location,
    contacts, a button choice, a reaction). ``channel`` is that message's (where the customer
    is, and where a reply goes), else the one the router routed the work on
    (``routed_channel``: the conversation's first). ``opening``: the text of the customer's
    first message since the conversation was last opened, when the latest is another one
    (user run 46: an offer after the answer bot's hand-off showed only "no", the visitor's
    answer to "did this help?", and not "My blender arrived broken, I want my money back")."""
    return _plain_all(await pool.fetch(
        f"""SELECT a.event_id, a.offer_id, a.conversation_id,
                  coalesce(m.channel, a.channel) AS channel, a.channel AS routed_channel,
                  a.pool, a.priority,
                  a.expires_at, a.occurred_at, c.customer_id,
                  {customer_name('c')} AS customer_name,
                  left(m.text, {PREVIEW_CHARS}) AS preview,
                  coalesce(m.kinds, '{{}}') AS preview_attachments,
                  coalesce(m.said, '{{}}') AS preview_content,
                  CASE WHEN f.message_id <> m.message_id
                       THEN left(f.text, {PREVIEW_CHARS}) END AS opening
           FROM assignments a
           LEFT JOIN conversations c ON c.conversation_id = a.conversation_id
           LEFT JOIN customers cu ON cu.customer_id = c.customer_id
           LEFT JOIN LATERAL {last_opened('c')} since ON true
           LEFT JOIN LATERAL (
               SELECT x.message_id, x.text FROM messages x
               WHERE x.conversation_id = ANY(conversation_thread(a.conversation_id))
                 AND x.direction = 'inbound' AND x.text IS NOT NULL AND x.created_at >= since.at
               ORDER BY x.created_at LIMIT 1) f ON true
           LEFT JOIN LATERAL (
               SELECT x.message_id, x.text, x.channel, kinds.kinds, {SAID.format(m='x')} AS said
               FROM messages x
               CROSS JOIN LATERAL (SELECT ARRAY(SELECT f.kind FROM attachments f
                                                WHERE f.message_id = x.message_id
                                                ORDER BY f.position) AS kinds) kinds
               WHERE x.conversation_id = ANY(conversation_thread(a.conversation_id))
                 AND x.direction = 'inbound'
                 AND (x.text IS NOT NULL OR cardinality(kinds.kinds) > 0
                      OR {SAID.format(m='x')} <> '{{}}')
               ORDER BY x.created_at DESC LIMIT 1) m ON true
           WHERE a.agent_id = $1 AND {OPEN_OFFER}
             AND NOT EXISTS (SELECT 1 FROM agent_events e WHERE e.offer_id = a.offer_id
                             AND e.kind IN ('accept', 'decline'))
           ORDER BY a.occurred_at""", agent_id))


async def offered_to(pool: asyncpg.Pool, agent_id: str, conversation_id: str) -> bool:
    """Whether the conversation has an open offer to the agent: not expired, not declined,
    and not yet answered by the router (assigned, rejected, expired, revoked)."""
    value: bool = await pool.fetchval(
        f"""SELECT EXISTS (SELECT 1 FROM assignments a
           WHERE a.agent_id = $1 AND a.conversation_id = $2 AND {UNDECLINED_OFFER})""",
        agent_id, conversation_id)
    return value


async def offer_owner(pool: asyncpg.Pool, offer_id: str) -> str | None:
    """The agent an offer was made to, when history knows it."""
    value: str | None = await pool.fetchval(
        "SELECT agent_id FROM assignments WHERE offer_id = $1 AND kind = 'offered' LIMIT 1",
        offer_id)
    return value


async def canned_responses(pool: asyncpg.Pool, workspace: str) -> list[dict[str, Any]]:
    """The workspace's canned responses."""
    return _plain_all(await pool.fetch(
        "SELECT shortcut, text FROM canned_responses WHERE workspace = $1 ORDER BY shortcut",
        workspace))


async def awaiting_first_reply(pool: asyncpg.Pool, conversation_id: str) -> datetime | None:
    """When the conversation's first customer message was received, if no agent replied yet.

    The stored ``created_at`` of an inbound message is its event time (the
    connector's ``occurred_at``), so ``now - this`` is the first-reply time.
    """
    row = await pool.fetchrow(
        """SELECT min(created_at) FILTER (WHERE direction = 'inbound') AS first_in,
                  count(*) FILTER (WHERE direction = 'outbound') AS replies
           FROM messages WHERE conversation_id = ANY(conversation_thread($1))""",
        conversation_id)
    if row is None or row["replies"] or row["first_in"] is None:
        return None
    first_in: datetime = row["first_in"]
    return first_in


async def routing_facts(pool: asyncpg.Pool,
                        conversation_id: str) -> tuple[Channel, datetime] | None:
    """The channel to route a conversation on and since when its customer waits
    (:func:`waiting_since`)."""
    row = await pool.fetchrow(
        f"""SELECT c.channel, {waiting_since('c', 'opened')} AS since
            FROM conversations c CROSS JOIN LATERAL {last_opened('c')} opened
            WHERE c.conversation_id = $1""", conversation_id)
    if row is None or row["channel"] is None:
        return None
    since: datetime = row["since"]
    return Channel(row["channel"]), since


async def refusals(pool: asyncpg.Pool, agent_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The agent's events the router refused (``rejected``/``refused``), newest first."""
    return _plain_all(await pool.fetch(
        """SELECT event_id, occurred_at, kind, conversation_id, offer_id, reason, decision
           FROM assignments WHERE agent_id = $1 AND kind IN ('rejected', 'refused')
           ORDER BY occurred_at DESC LIMIT $2""", agent_id, limit))


def presence_of(agent: str, away_pools: str, *, why: bool = False) -> str:
    """SQL: the agent's latest presence, or ``away`` when an offer to them timed out since in
    one of ``away_pools`` (a ``text[]``: pools with ``away_on_offer_timeout``). The router
    then sets the agent away without an AgentEvent; before 2026-12-05 the console went on
    showing "available", and choosing it again changed nothing (a user run's agent who had
    stepped out got no more offers without knowing why). NULL when never set. ``why``:
    instead, :data:`OFFER_TIMED_OUT` when that is why she is away, else NULL."""
    missed = f"""p.presence IN ('available', 'busy') AND EXISTS (
                       SELECT 1 FROM assignments t WHERE t.agent_id = p.agent_id
                         AND t.kind = 'rescinded' AND t.reason = '{OFFER_TIMED_OUT}'
                         AND t.pool = ANY({away_pools}) AND t.occurred_at > p.occurred_at)"""
    shown = f"'{OFFER_TIMED_OUT}'" if why else "'away' ELSE p.presence"
    return f"""(SELECT CASE WHEN {missed} THEN {shown} END
                FROM agent_presence p WHERE p.agent_id = {agent}
                ORDER BY p.occurred_at DESC LIMIT 1)"""


def away_pools(config: RoutingConfig) -> list[str]:
    """The pools whose policy sets an agent away when an offer to them times out."""
    return sorted(name for name, pool in config.pools.items()
                  if pool.get("away_on_offer_timeout", True))


async def presence(pool: asyncpg.Pool, agent_id: str, config: RoutingConfig) -> str:
    """The agent's presence as the router holds it (offline when never set). Every
    heartbeat reads it: one subquery, not :func:`presence_and_why`'s two."""
    value: str | None = await pool.fetchval(
        f"SELECT {presence_of('$1', '$2::text[]')}", agent_id, away_pools(config))
    return value or "offline"


async def presence_and_why(pool: asyncpg.Pool, agent_id: str, config: RoutingConfig
                           ) -> tuple[str, str | None]:
    """:func:`presence`, and why she is away when the router set her so
    (:data:`OFFER_TIMED_OUT`), else None: a console opened then says so."""
    row = await pool.fetchrow(
        f"SELECT {presence_of('$1', '$2::text[]')} AS presence, "
        f"{presence_of('$1', '$2::text[]', why=True)} AS why", agent_id, away_pools(config))
    return (row["presence"] or "offline", row["why"]) if row else ("offline", None)


async def holds_customer(pool: asyncpg.Pool, agent_id: str, customer_id: str) -> bool:
    """Whether the agent holds one of the customer's open conversations now."""
    found: bool = await pool.fetchval(
        """SELECT EXISTS (SELECT 1 FROM conversation_assignments h
                          JOIN conversations c ON c.conversation_id = h.conversation_id
                          WHERE h.agent_id = $1 AND h.state = 'assigned'
                            AND c.customer_id = $2 AND c.status = 'open')""",
        agent_id, customer_id)
    return found
