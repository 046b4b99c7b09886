"""The ``conversation_events.kind`` values analytics reads, in one place (pure constants).

Core kinds come from :class:`omniroute.contract.ConversationEventKind`. The
automation, self-service and SLA kinds are the documented names other
processors publish on ``omniroute.conversations.v1``; history keeps any kind
as text, so metrics appear the moment such events are in history, with no
change here. A producer that spells a kind differently adds it to the tuple.
"""

from __future__ import annotations

OPENED = ("opened",)
REOPENED = ("reopened",)
RESOLVED = ("resolved",)
TRANSFERRED = ("transferred",)
RATED = ("rated",)
ENDED_WAITING = ("abandoned", "canceled")
"""The customer left (or the work was canceled) while waiting: ends a queue wait."""
SURVEY_SENT = ("survey_sent", "csat_requested")
SLA_BREACHED = ("sla_breached",)
BOT_RESOLVED = ("bot_resolved",)
THANKS_ONLY = "the customer only said thanks"
"""The reason of a ``bot_resolved`` event closing, without a word, a conversation whose only
message thanked (``omniroute.bot.machine.THANKED``): nothing was asked, nothing answered."""
BOT_HANDOFF = ("handed_off", "bot_handoff", "handoff_requested")
"""``handed_off`` is what the answer bot publishes (docs/knowledge.md)."""
ARTICLE = ("article_viewed", "article_searched", "article_suggested")
PROACTIVE = ("proactive_sent",)
"""A web chat prompt shown (the report counts them)."""
PROACTIVE_MESSAGE = "proactive_message"
"""Not an event: a proactive message (``prc_…``, automation's send) to the customer's
address that the conversation answers, added to its history by the refresh (see
:data:`PROACTIVE_ANSWER_S`)."""
PROACTIVE_PATH = (*PROACTIVE, PROACTIVE_MESSAGE)
"""What starts a conversation's funnel path at ``proactive``."""
PROACTIVE_ANSWER_S = 24 * 3600
"""A conversation opened within this long after a proactive message to one of the
customer's addresses answers it (a WhatsApp template's reply window)."""
PARKED = ("parked",)
TRIAGED = ("triaged",)

HUMAN_AUTHORS = ("agent",)
"""Outbound author kinds that are a human agent (``bot`` and ``system`` are not)."""

SELF_SERVE_WINDOW_S = 24 * 3600
"""Intercom: self-serve resolved = no conversation started within 24 h of seeking support."""
