"""A literal morning of support history, written the way the sink writes it.

Core events go through :func:`omniroute.history.store.write_batch`; kinds that
other processors publish (``survey_sent``, ``sla_breached``, ``abandoned``,
``bot_resolved``) are inserted as literal ``conversation_events`` rows, as
history stores any kind. Expected figures are in :data:`EXPECTED`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from omniroute.contract import (
    Address,
    AgentEvent,
    AgentEventKind,
    AssignmentEvent,
    AssignmentKind,
    Author,
    AuthorKind,
    Channel,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    Envelope,
    MessageRef,
    OutboundMessage,
    Presence,
    Rating,
)
from omniroute.history.store import write_batch

T = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # a Friday


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


def conv(cid: str, kind: ConversationEventKind, s: float, **extra: object) -> ConversationEvent:
    return ConversationEvent(event_id=f"{cid}-{kind.value}-{s}", occurred_at=at(s),
                             conversation_id=cid, customer_id=f"cust-{cid}", kind=kind, **extra)


def said(cid: str, s: float, channel: Channel = Channel.WEBCHAT) -> ConversationEvent:
    return conv(cid, ConversationEventKind.MESSAGE_ADDED, s, channel=channel, message=MessageRef(
        source_event_id=f"in-{cid}-{s}", direction=Direction.INBOUND, channel=channel, text="hi"))


def reply(cid: str, s: float, author: AuthorKind, agent: str | None = None,
          channel: Channel = Channel.WEBCHAT) -> OutboundMessage:
    return OutboundMessage(event_id=f"out-{cid}-{s}", occurred_at=at(s), conversation_id=cid,
                           customer_id=f"cust-{cid}", channel=channel, channel_account="site",
                           recipient=Address(value="visitor"), author=Author(kind=author, id=agent),
                           text="hello")


def assignment(cid: str, agent: str, kind: AssignmentKind, s: float) -> AssignmentEvent:
    return AssignmentEvent(event_id=f"asg-{cid}-{agent}-{kind.value}-{s}", occurred_at=at(s),
                           agent_id=agent, kind=kind, conversation_id=cid, pool="support",
                           channel=Channel.WEBCHAT, offer_id=f"offer-{cid}")


def presence(agent: str, value: Presence, s: float) -> AgentEvent:
    return AgentEvent(event_id=f"presence-{agent}-{s}", occurred_at=at(s), agent_id=agent,
                      kind=AgentEventKind.PRESENCE, presence=value)


def morning() -> list[tuple[str, Envelope]]:
    """c1 handled and rated (then commented), c2 abandoned after an SLA breach, c3 resolved by the bot."""
    opened = ConversationEventKind.OPENED
    events: list[tuple[str, Envelope]] = [
        ("agents", presence("a1", Presence.AVAILABLE, 0)),
        ("conversations", conv("c1", opened, 0, channel=Channel.WEBCHAT, pool="support",
                               triage={"language": "en", "intent": "billing"})),
        ("conversations", said("c1", 0)),
        ("assignments", assignment("c1", "a1", AssignmentKind.OFFERED, 30)),
        ("assignments", assignment("c1", "a1", AssignmentKind.ASSIGNED, 30)),
        ("conversations", conv("c1", ConversationEventKind.ASSIGNED, 30, agent_id="a1")),
        ("outbound", reply("c1", 65, AuthorKind.AGENT, "a1")),
        ("conversations", said("c1", 120)),
        ("outbound", reply("c1", 160, AuthorKind.AGENT, "a1")),
        ("conversations", conv("c1", ConversationEventKind.RESOLVED, 600, agent_id="a1")),
        ("assignments", assignment("c1", "a1", AssignmentKind.COMPLETED, 600)),
        ("conversations", conv("c1", ConversationEventKind.RATED, 660, rating=Rating(score=5))),
        # the customer's comment after the rating: a second `rated` event, the same rating
        ("conversations", conv("c1", ConversationEventKind.RATED, 700,
                               rating=Rating(score=5, comment="quick, thanks"))),
        ("conversations", conv("c2", opened, 300, channel=Channel.WEBCHAT, pool="support",
                               triage={"language": "en", "intent": "billing"})),
        ("conversations", said("c2", 300)),
        ("conversations", conv("c3", opened, 1200, channel=Channel.SMS, pool="support",
                               triage={"language": "ko", "intent": "order"})),
        ("conversations", said("c3", 1200, Channel.SMS)),
        ("outbound", reply("c3", 1210, AuthorKind.BOT, "answer-bot", Channel.SMS)),
        ("conversations", conv("c3", ConversationEventKind.RESOLVED, 1320)),
        ("agents", presence("a1", Presence.OFFLINE, 1800)),
    ]
    return events


LITERAL_EVENTS = [  # (event_id, conversation, kind, seconds after T)
    ("lit-survey-c1", "c1", "survey_sent", 601),
    ("lit-sla-c2", "c2", "sla_breached", 360),
    ("lit-abandon-c2", "c2", "abandoned", 420),
    ("lit-bot-c3", "c3", "bot_resolved", 1260),
]


async def write_morning(conn: asyncpg.Connection) -> None:
    """The morning's history, as the sink (and the other processors' kinds) would leave it."""
    await write_batch(conn, morning())
    await insert_literal(conn, LITERAL_EVENTS)


async def insert_literal(conn: asyncpg.Connection,
                         rows: list[tuple[str, str, str, float]]) -> None:
    """``conversation_events`` rows of kinds the core contract does not define (yet)."""
    await conn.executemany(
        "INSERT INTO conversation_events (event_id, workspace, occurred_at, conversation_id, "
        "customer_id, kind) VALUES ($1, 'default', $2, $3, 'cust-' || $3, $4)",
        [(eid, at(s), cid, kind) for eid, cid, kind, s in rows])


EXPECTED = {
    "conversations": 3.0,
    "frt_mean": 65.0, "frt_median": 65.0, "frt_business_mean": 65.0,
    "next_reply_mean": 40.0,
    "queue_wait_mean": 30.0,
    "abandon_rate": 0.5, "abandoned": 1.0,
    "missed": 1.0, "missed_rate": 0.5,
    "resolution_first_mean": 360.0, "resolution_first_median": 360.0,
    "resolution_first_p90": 552.0,
    "chat_duration_mean": 570.0, "handle_time_mean": 570.0,
    "fcr_rate": 0.5, "human_resolved_share": 0.5,
    "csat": 1.0, "csat_mean_score": 5.0, "survey_response_rate": 1.0,
    "sla_breach_rate": 1 / 3, "bot_resolution_rate": 1.0,
    "occupancy": 570 / 1800, "concurrency": 1.0, "agents_online": 0.5,
    "agents_chatting": 570 / 3600, "utilization": 570 / (1800 * 3),
    "transfers": 0.0,
}
"""By hand: c1 FRT 65 s, next reply 40 s, queue 30 s, resolved at 600 s (FCR); c2 waited
120 s and left (abandoned, missed); c3 bot-resolved at 120 s (not FCR: no human).
a1 online 09:00-09:30 (1800 s), holding c1 from 09:00:30 to 09:10 (570 s)."""
