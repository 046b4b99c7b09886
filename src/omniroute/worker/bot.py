"""The answer bot in the worker: a gate on the routing-request path, and its agents.

The hook: the conversations processor hands each command's routing requests to
:class:`BotGate`. While the bot is switched on in the live routing configuration
(and for :data:`SWITCH_OFF_GRACE_S` after it was switched off) the gate sends
them, with the customer's message, to ``omniroute.internal.bot-inbox``
(keyed by conversation id). There ``bot.inbox`` runs the pure state machine
(:mod:`omniroute.bot.machine`): a conversation the bot takes is held back
(no agent is offered it) until the bot resolves it or hands it off, when the
held request goes on to ``omniroute.internal.routing-requests`` with intent,
language and reason; every other request passes straight through. While the bot is off, the gate
sends requests straight to the router (no hop).

``bot.news`` repartitions ``resolved`` events of ``omniroute.conversations.v1``
to the inbox (human_resolved); a timer sends ``expire`` records for waits that
ended. Knowledge-base search reads PostgreSQL; when it fails the question
counts as a miss, so a broken database hands customers to people.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg

from omniroute.bot.machine import (
    BotSession,
    Found,
    Step,
    on_expire,
    on_message,
    on_request,
    on_resolved,
    wants_search,
)
from omniroute.bot.policy import BotPolicy, load_bot_policy, parse_bot
from omniroute.bot.records import BOT_RECORD, TOPIC, BotExpire, BotNews, BotTurn
from omniroute.bot.replies import Meaning, language_of, meaning
from omniroute.contract import ConversationEvent, ConversationEventKind, InboundMessage, utcnow
from omniroute.contract.topics import CONVERSATIONS, OUTBOUND
from omniroute.conversations.commands import ThreadMessage
from omniroute.conversations.threading import Outcome
from omniroute.errors import ConfigurationError
from omniroute.infra.postgres import create_pool, resolve_database_url
from omniroute.knowledge import store
from omniroute.observability.logs import get_logger
from omniroute.routing.config import pool_business_hours
from omniroute.triage.intents import NO_INTENT
from omniroute.worker.app import Worker
from omniroute.worker.news import headline
from omniroute.worker.routes import (
    live_published_at,
    live_ready,
    live_routing,
    produce_request,
    send_request,
)

log = get_logger(__name__)
SWEEP_INTERVAL_SECONDS = 1.0
SWITCH_OFF_GRACE_S = 30.0
"""How long after the bot is switched off requests still go through its inbox (after this
process last saw it on, and after the live configuration was published): the bot hands what
it holds to people within a sweep (a second), and a held conversation's later requests must
follow that handoff, not overtake it on the direct path."""
INTENT_LEAD = 0.2
"""How far the search for an intent's name must put one article ahead of the next for it
to be that intent's own article, which breaks a tie of the customer's words: "order
status" finds *Checking your order status* (0.95, then 0.74); "refunds" finds three refund
articles within 0.1, none of them its own, and a tie among them stays a question."""


class BotGate:
    """Where the conversations processor's routing requests go: through the bot's inbox
    while it is on (and :data:`SWITCH_OFF_GRACE_S` after), else straight to the router."""

    def __init__(self, worker: Worker, bot: BotProcessor) -> None:
        self.worker = worker
        self.bot = bot

    async def forward(self, command: Any, outcome: Outcome) -> None:
        """One :class:`BotTurn` per conversation the command touched (message included), or
        the requests themselves to the router while the bot takes no turns."""
        await live_ready(self.worker)  # at start-up: whether the bot is on is the live version's
        if not self.bot.takes_turns():
            for request in outcome.requests:  # waited above: not once more per request
                await produce_request(self.worker, request)
            return
        turns: dict[str, BotTurn] = {}
        for request in outcome.requests:
            turn = turns.setdefault(request.conversation_id, BotTurn(
                conversation_id=request.conversation_id, customer_id=request.customer_id,
                workspace=request.workspace))
            turn.requests.append(request)
        if isinstance(command, ThreadMessage):
            for event in outcome.events:
                ref = event.message
                if event.kind is ConversationEventKind.MESSAGE_ADDED and ref is not None \
                        and ref.source_event_id == command.message.event_id:
                    turn = turns.setdefault(event.conversation_id, BotTurn(
                        conversation_id=event.conversation_id, customer_id=event.customer_id,
                        workspace=event.workspace))
                    turn.message = command.message
        for cid, turn in turns.items():
            await self.worker.send(TOPIC, cid, turn.model_dump_json().encode())


class BotProcessor:
    """The bot's agents: the inbox (state machine), resolved news, and the expiry sweep."""

    def __init__(self, worker: Worker, policy: BotPolicy) -> None:
        self.worker = worker
        self._file_policy = self._policy = policy
        self._bot_table: dict[str, Any] | None = None
        self.sessions = worker.model_table("bot-sessions", BotSession)
        self._db: asyncpg.Pool | None = None
        self._expiring: dict[str, datetime] = {}
        self._turns_until = 0.0
        """Turns go through the inbox until then (monotonic), at least."""

    @property
    def policy(self) -> BotPolicy:
        """The ``[bot]`` switches, the pools' rules and their business hours of the live
        routing configuration (changed through the admin API, ``PUT /api/v1/admin/bot``,
        without a restart); the routing file's until a version is read. A version without
        a ``[bot]`` table (published before the bot was configured) keeps the file's
        switches."""
        routing = live_routing(self.worker, self._file_policy.routing)
        if routing is not self._policy.routing:
            if routing.bot and routing.bot != self._bot_table:
                try:
                    switches = parse_bot(routing.document(), "live routing configuration")
                except ConfigurationError as exc:  # the gateway validates: not expected
                    log.error("bot_configuration_refused", error=str(exc))
                    switches = self._policy
                else:
                    self._bot_table = routing.bot
                    log.info("answer_bot_configured", enabled=switches.enabled,
                             threshold=switches.threshold, hours=switches.hours.value)
            else:
                switches = self._policy if routing.bot else self._file_policy
            self._policy = replace(switches, routing=routing,
                                   business_hours=pool_business_hours(routing))
        return self._policy

    def takes_turns(self) -> bool:
        """Whether the gate sends routing requests through the inbox: while the bot is on in
        the live configuration, and :data:`SWITCH_OFF_GRACE_S` after this process last saw
        it on or after the live version (which may have switched it off) was published."""
        now = time.monotonic()
        if self.policy.enabled:
            self._turns_until = now + SWITCH_OFF_GRACE_S
            return True
        return now < self._turns_until \
            or time.time() - live_published_at(self.worker) < SWITCH_OFF_GRACE_S

    async def on_inbox(self, event: Any) -> str | None:
        """Apply one inbox record to its conversation's session and emit what it decided."""
        record = BOT_RECORD.validate_json(event.value)
        if isinstance(record, BotNews):
            cid = record.event.conversation_id
            await self._apply(cid, on_resolved(self.sessions.get(cid), record.event))
            return None
        if isinstance(record, BotExpire):
            cid = record.conversation_id
            await self._apply(cid, on_expire(self.sessions.get(cid), record.deadline, utcnow(),
                                             self.policy.enabled))
            return None
        assert isinstance(record, BotTurn)
        return await self.on_turn(record)

    async def on_turn(self, turn: BotTurn) -> str | None:
        """The routing requests first, then the customer's message."""
        cid = turn.conversation_id
        session = self.sessions.get(cid)
        for request in turn.requests:
            step = on_request(session, request, self.policy, request.occurred_at)
            await self._emit(step)
            session = step.session
        message = turn.message
        if message is not None:
            found = await self.search(session, message) if wants_search(session, message) \
                else None
            step = on_message(session, message, found, self.policy)
            await self._emit(step)
            session = step.session
        self._store(cid, session)
        return message.channel.value if message else None

    async def search(self, session: BotSession | None, message: InboundMessage) -> Found | None:
        """The best published article for the message (or the triaged intent), if any."""
        language = language_of(message.text, session.language if session else "en")
        intent = session.held.intent if session and session.held else None
        if intent == NO_INTENT:  # names no topic; searched for, "other" found the article
            intent = None  # on "other countries" (a user run's wholesale enquiry)
        try:
            db = await self._pool()
            if session is not None and session.suggested and meaning(message.text) is Meaning.YES:
                return await self.suggested(db, message.workspace, *session.suggested)
            hits = await store.search(db, message.workspace, message.text or "", language, 3)
            guess, by_intent = None, []
            tied = [h for h in hits if hits[0].score - h.score < self.policy.margin]
            if intent and len(tied) > 1:
                # the words tie ("where is my order": every order article has "order"):
                # the intent's own article, if it has one, decides (user run 61's customer
                # was offered "How to cancel an order" beside her order's status)
                by_intent = await store.search(db, message.workspace, intent.replace("_", " "),
                                               language, 2)
                own = by_intent[0].article_id if by_intent and (
                    len(by_intent) == 1
                    or by_intent[0].score - by_intent[1].score >= INTENT_LEAD) else None
                hits = [h for h in tied if h.article_id == own] or hits
            if intent and (not hits or hits[0].score < self.policy.threshold):
                by_intent = by_intent or await store.search(
                    db, message.workspace, intent.replace("_", " "), language, 2)
                if by_intent and hits and hits[0].score >= self.policy.threshold / 2 \
                        and by_intent[0].article_id != hits[0].article_id:
                    guess = by_intent[0]  # keep what the words found, offer the intent's too
                elif by_intent and (not hits or by_intent[0].score > hits[0].score):
                    hits = by_intent
            if not hits:
                return None
            hit = hits[0]
            row = await store.article(db, message.workspace, hit.article_id, hit.language,
                                      published_only=True)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("bot_search_failed", error=str(exc))
            return None
        if row is None:
            return None
        # a guess beside what the words found (user run 58: "the blender box is also damaged"
        # found "My item arrived damaged" at 0.22; the intent's search for delivery replaced
        # it with two delivery articles, and the bot offered those two)
        second = guess or (hits[1] if len(hits) > 1 else None)
        return Found(hit.article_id, hit.language, hit.title, hit.category, hit.score, row["body"],
                     second.score if second else 0.0, second.title if second else None,
                     guessed=guess is not None)

    @staticmethod
    async def suggested(db: store.Db, workspace: str, article_id: str,
                        language: str) -> Found | None:
        """The article a miss offered, which the customer said yes to: the answer."""
        row = await store.article(db, workspace, article_id, language, published_only=True)
        if row is None:
            return None
        return Found(article_id, row["language"], row["title"], row["category"], 1.0,
                     row["body"])

    async def on_news(self, event: Any) -> str | None:
        """Repartition a ``resolved`` conversation event to the bot's inbox."""
        head = headline(event.value)  # most records are not resolutions: not decoded whole
        if head.kind is ConversationEventKind.RESOLVED:
            news = ConversationEvent.from_json_bytes(event.value)
            await self.worker.send(TOPIC, news.conversation_id,
                                   BotNews(event=news).model_dump_json().encode())
        return head.channel_label

    async def sweep(self) -> None:
        """Send an ``expire`` record for every wait that ended (once per deadline); every
        wait ends at once while the bot is switched off, so what it held goes to people."""
        now = utcnow()
        enabled = self.policy.enabled
        for session in list(self.sessions.values()):
            deadline = session.deadline
            cid = session.conversation_id
            if deadline is None or (deadline > now and enabled) \
                    or self._expiring.get(cid) == deadline:
                continue
            self._expiring[cid] = deadline
            record = BotExpire(conversation_id=cid, deadline=deadline)
            await self.worker.send(TOPIC, cid, record.model_dump_json().encode())
        if len(self._expiring) > 100_000:
            self._expiring.clear()

    async def _apply(self, cid: str, step: Step) -> None:
        await self._emit(step)
        self._store(cid, step.session)

    def _store(self, cid: str, session: BotSession | None) -> None:
        if session is None:
            if self.sessions.get(cid) is not None:
                del self.sessions.table[cid]
        elif session != self.sessions.get(cid):
            self.sessions.set(cid, session)

    async def _emit(self, step: Step) -> None:
        for message in step.outbound:
            await self.worker.send(OUTBOUND.name, message.conversation_id, message.to_json_bytes(),
                                   message.channel.value)
        for event in step.events:
            await self.worker.send(CONVERSATIONS.name, event.conversation_id, event.to_json_bytes(),
                                   event.channel.value if event.channel else None)
        for request in step.requests:
            await send_request(self.worker, request)

    async def _pool(self) -> asyncpg.Pool:
        if self._db is None:
            self._db = await create_pool(resolve_database_url(self.worker.settings), max_size=2)
        return self._db


def register(worker: Worker) -> None:
    """Put the bot's gate on the conversations processor and add its agents. Always: the
    admin API switches the bot on and off live, whatever the routing file said at start
    (before 2026-12-05 only a file with a ``[bot]`` table did, and switching the bot on in a
    stack started without one published a version the workers ignored)."""
    policy = load_bot_policy(worker.settings.routing_config)
    bot = BotProcessor(worker, policy)
    worker.components["conversations"].gate = BotGate(worker, bot)
    worker.components["bot"] = bot
    worker.agent(TOPIC, "bot.inbox", bot.on_inbox, stage="bot")
    worker.agent(CONVERSATIONS.name, "bot.news", bot.on_news, stage="bot")
    worker.app.timer(SWEEP_INTERVAL_SECONDS)(bot.sweep)
    log.info("answer_bot_registered", enabled=policy.enabled, threshold=policy.threshold,
             channels=sorted(policy.channels) if policy.channels else "all",
             pools=sorted(policy.pools) if policy.pools else "all", hours=policy.hours.value)
