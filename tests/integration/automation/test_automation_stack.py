"""Triage and automation through the real stack (`omniroute up`): signed webhooks in,
public topics and the history database out.

Three customers text the Twilio webhook:

- an angry Korean refund request: triaged ko / refund / negative, routed with the
  billing skill and a raised priority, acknowledged at once in Korean with the
  expected wait; an agent gets it and resolves it; the survey arrives on SMS and
  the reply "5" becomes a ``rated`` event and a ``csat_ratings`` row (and does not
  reopen the conversation);
- a delivery question while the delivery pool is closed: exactly one out-of-office
  reply naming the next opening, even after a second message;
- "상담원 연결": an ``escalated`` event, a high-priority request, a human agent;
- a mail (SMTP): its acknowledgement and its survey answer it in its own thread.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg
import pytest

from harness.kafka import consume, consume_all, produce, routing_requests
from harness.ready import wait_ready
from harness.stack import running_stack, stack_env
from omniroute.automation.store import publish_rules
from omniroute.contract import AgentEvent, ConversationEvent, OutboundMessage
from omniroute.contract.topics import AGENT_EVENTS, CONVERSATIONS, OUTBOUND
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.routing.config import load_config
from omniroute.routing.live import publish_config
from omniroute.routing.requests import RoutingRequest
from omniroute.settings import Settings
from omniroute_connectors.signatures import twilio_signature
from omniroute_connectors.webchat.trust import identity_token

TOKEN = "automation-token"
MAILBOX = "support@acme.test"
BUSINESS = "+14155550199"
ANGRY = "환불 언제 해주는 거예요?? 벌써 2주째 기다리고 있는데 진짜 화가 나네요"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KOREAN_DAYS = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")


AUTOMATION = """
[[defaults.sla]]
name = "support-fast"
pool = "support"
first_reply_minutes = 0.1
business_hours = false

[defaults.templates.still_there]
"*:ko" = "아직 계신가요?"
"*:en" = "Are you still there?"
"""
LIVE_RULES = [{"name": "after-resolve", "on": "resolved", "when": {"language": "ko"},
               "then": {"tag": ["resolved-ko"]}},
              {"name": "nudge", "on": "idle", "idle_minutes": 0.05,
               "when": {"waiting": "customer"}, "then": {"reply": "still_there"}}]


def routing(closed_until: int) -> str:
    """Billing and support always open; delivery opens only on weekday ``closed_until``."""
    return f"""
[routing]
default_pool = "support"

[[routing.rules]]
channel = "webchat"
pool = "web"

[[routing.rules]]
skill = "billing"
pool = "billing"

[[routing.rules]]
intent = "delivery"
pool = "delivery"

[[routing.rules]]
intent = "cancellation"
pool = "retention"

[pools.support]
[pools.retention]
[pools.web]
[pools.billing]
[pools.delivery]
[pools.delivery.business_hours]
timezone = "UTC"
{DAYS[closed_until]} = ["09:00-17:00"]

[agents.mina]
pool = "billing"
capacity = 2
auto_accept = true
skills = {{ billing = 1 }}

[agents.jun]
pool = "support"
capacity = 2
auto_accept = true

[agents.rita]
pool = "retention"
capacity = 2
"""


async def text(base: str, sid: str, sender: str, body: str) -> int:
    """An inbound SMS the way Twilio signs it."""
    pairs = [("MessageSid", sid), ("From", sender), ("To", BUSINESS), ("Body", body)]
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": twilio_signature(TOKEN, f"{base}/webhooks/twilio", pairs)}
    async with aiohttp.ClientSession() as session, session.post(
        f"{base}/webhooks/twilio", data=urlencode(pairs), headers=headers
    ) as response:
        return response.status


class Topics:
    """The stack's topics, read from the beginning."""

    def __init__(self, bootstrap: str, namespace: str) -> None:
        self.bootstrap, self.namespace = bootstrap, namespace

    async def events(self, count: int, where: object, timeout: float = 90) -> list[
            ConversationEvent]:
        records = await consume(
            self.bootstrap, self.namespace + CONVERSATIONS.name, count, timeout,
            where=lambda r: where(ConversationEvent.from_json_bytes(r.value)))  # type: ignore[operator]
        return [ConversationEvent.from_json_bytes(r.value) for r in records]

    async def outbound(self, count: int, where: object, timeout: float = 90) -> list[
            OutboundMessage]:
        records = await consume(
            self.bootstrap, self.namespace + OUTBOUND.name, count, timeout,
            where=lambda r: where(OutboundMessage.from_json_bytes(r.value)))  # type: ignore[operator]
        return [OutboundMessage.from_json_bytes(r.value) for r in records]

    async def outbound_so_far(self, where: object) -> list[OutboundMessage]:
        """Every outbound message committed so far that matches: automation replies in the
        transaction that writes the message's events, so once those are read, so are its
        replies ("nothing more" without waiting out a timeout)."""
        records = await consume_all(
            self.bootstrap, self.namespace + OUTBOUND.name,
            where=lambda r: where(OutboundMessage.from_json_bytes(r.value)))  # type: ignore[operator]
        return [OutboundMessage.from_json_bytes(r.value) for r in records]

    async def requests(self, count: int, where: object, timeout: float = 60) -> list[
            RoutingRequest]:
        return await routing_requests(self.bootstrap, self.namespace, count, timeout,
                                      where)  # type: ignore[arg-type]

    async def agent(self, event: AgentEvent) -> None:
        await produce(self.bootstrap, self.namespace + AGENT_EVENTS.name,
                      [(event.agent_id.encode(), event.to_json_bytes())])


class TestAutomationThroughTheStack:
    # the batch engine (the default) only: automation runs the same processors on either
    # engine, and the legacy faust engine's plumbing is tested by the identity suite
    # (tests/integration/identity, both engines); both variants cost ~90 s of the budget
    @pytest.mark.parametrize("engine", ["batch"])
    async def test_triage_acknowledgement_out_of_office_escalation_and_survey(
        self, kafka_bootstrap: str, namespace: str, database_url: str, tmp_path: Path,
        engine: str,
    ) -> None:
        """The issue's acceptance path, end to end."""
        closed_until = (datetime.now(UTC) + timedelta(days=3)).weekday()
        routing_file = tmp_path / "routing.toml"
        routing_file.write_text(routing(closed_until))
        automation_file = tmp_path / "automation.toml"
        automation_file.write_text(AUTOMATION)
        env = stack_env(kafka_bootstrap=kafka_bootstrap, namespace=namespace,
                        database_url=database_url, state_dir=tmp_path / "state",
                        OMNIROUTE_TWILIO_AUTH_TOKEN=TOKEN,
                        OMNIROUTE_ROUTING_CONFIG=str(routing_file),
                        OMNIROUTE_AUTOMATION_CONFIG=str(automation_file),
                        OMNIROUTE_WORKER_ENGINE=engine, OMNIROUTE_EMAIL_MAILBOXES=MAILBOX,
                        OMNIROUTE_WEBCHAT_IDENTITY_SECRET=WEB_SECRET)
        env["OMNIROUTE_PUBLIC_BASE_URL"] = base = f"http://127.0.0.1:{env['OMNIROUTE_INGRESS_PORT']}"
        topics = Topics(kafka_bootstrap, namespace)
        with running_stack(env) as stack:
            await wait_ready(base, timeout=120)
            await publish_rules(Settings(kafka_bootstrap=kafka_bootstrap,
                                         topic_namespace=namespace), "default", LIVE_RULES)
            for agent, pool in (("mina", "billing"), ("jun", "support")):
                await topics.agent(AgentEvent(event_id=f"{agent}-on", agent_id=agent,
                                              kind="presence", presence="available", pool=pool))

            # 1. angry Korean refund: triage, routing attributes, instant Korean acknowledgement
            assert await text(base, "SMangry1", "+821011112222", ANGRY) == 200, stack.log_tail()
            # the first record waits for the worker's start-up on a loaded machine
            (triaged,) = await topics.events(1, lambda e: e.kind == "triaged", timeout=240)
            conversation = triaged.conversation_id
            assert (triaged.triage["language"], triaged.triage["intent"],
                    triaged.triage["sentiment_label"]) == ("ko", "refund", "negative")
            (route,) = await topics.requests(
                1, lambda r: r.conversation_id == conversation and r.kind == "route")
            assert (route.language, route.intent, route.skills) == ("ko", "refund", {"billing": 1})
            assert route.priority > 0 and route.sentiment is not None and route.sentiment < 0
            (ack,) = await topics.outbound(1, lambda m: m.conversation_id == conversation)
            assert ack.automation == "acknowledgement" and ack.author.kind == "bot"
            assert ack.channel == "sms" and ack.recipient.value == "+821011112222"
            assert "상담원이" in (ack.text or "") and "답변드리겠습니다" in (ack.text or "")

            # 2. the agent with the billing skill gets it and resolves it; the survey follows
            (assigned,) = await topics.events(
                1, lambda e: e.kind == "assigned" and e.conversation_id == conversation)
            assert assigned.agent_id == "mina"
            await topics.agent(AgentEvent(event_id="mina-resolves", agent_id="mina",
                                          kind="resolve", conversation_id=conversation))
            survey = await topics.outbound(
                2, lambda m: m.conversation_id == conversation)
            assert [m.automation for m in survey] == ["acknowledgement", "survey"], survey
            assert survey[1].channel == "sms" and "5(매우 만족)" in (survey[1].text or "")
            assert [c.payload for c in survey[1].choices] == [f"csat:{i}" for i in range(1, 6)]

            # a live rule (set through the rules topic the admin API and CLI write) tags it
            (tagged,) = await topics.events(
                1, lambda e: e.kind == "tagged" and e.conversation_id == conversation)
            assert tagged.tags == ["resolved-ko"] and "after-resolve" in (tagged.reason or "")

            # 3. a full-width five (U+FF15, as typed in full-width mode) is a rating: a rated event, a history row, no
            # reopening (it used to be an ordinary message that reopened the conversation)
            assert await text(base, "SMrate1", "+821011112222", "\uff15") == 200
            (rated,) = await topics.events(1, lambda e: e.kind == "rated")
            assert rated.conversation_id == conversation and rated.rating is not None
            assert rated.rating.score == 5
            row = await _wait_for_row(database_url, conversation)
            assert (row["score"], row["customer_id"]) == (5, rated.customer_id)

            # 4. delivery pool closed: one out-of-office reply naming the next opening
            assert await text(base, "SMnight1", "+821033334444", "택배가 일주일째 안 와요") == 200
            assert await text(base, "SMnight2", "+821033334444", "언제 와요?") == 200
            # (the second message keeps the conversation's pool: only the first, which opens
            # routing, puts it on the event)
            night, *rest = await topics.events(
                2, lambda e: e.kind == "triaged" and e.triage.get("pool") == "delivery")
            assert [e.pool for e in rest] == [None]
            await topics.events(2, lambda e: e.kind == "message_added"
                                and e.conversation_id == night.conversation_id)
            await topics.outbound(1, lambda m: m.conversation_id == night.conversation_id)
            replies = await topics.outbound_so_far(
                lambda m: m.conversation_id == night.conversation_id)
            assert [m.automation for m in replies] == ["out_of_office"], replies
            assert KOREAN_DAYS[closed_until] in (replies[0].text or "") or "내일" in (
                replies[0].text or "")
            # the triaged event names the pool, so the supervisor's board places the waiting
            # conversation there (a user run's board had it under "(no pool)": history learnt
            # a pool only from an offer)
            assert night.pool == "delivery"
            assert await _board_pool(stack.port("GATEWAY"), database_url,
                                     night.conversation_id) == "delivery"

            # the delivery pool opens around the clock through the live configuration (as the
            # admin API does): automation follows it without a restart, so a new customer is
            # acknowledged, not told the pool is closed (it read the file until 2026-12-04)
            opened_file = tmp_path / "routing-open.toml"
            opened_file.write_text(routing(closed_until).replace(
                f'{DAYS[closed_until]} = ["09:00-17:00"]',
                "\n".join(f'{day} = ["00:00-24:00"]' for day in DAYS)))
            await publish_config(Settings(kafka_bootstrap=kafka_bootstrap,
                                          topic_namespace=namespace),
                                 load_config(opened_file), actor="test", reason="open all day")
            assert await _first_reply_kind_once_open(base, topics) == "acknowledgement"

            # 5. "상담원 연결" reaches a human, with priority raised
            assert await text(base, "SMhuman1", "+821055556666", "상담원 연결") == 200
            (escalated,) = await topics.events(1, lambda e: e.kind == "escalated")
            (request,) = await topics.requests(
                1, lambda r: r.conversation_id == escalated.conversation_id)
            assert request.priority >= 80 and request.reason == "customer asked for a human"
            (human,) = await topics.events(
                1, lambda e: e.kind == "assigned"
                and e.conversation_id == escalated.conversation_id)
            assert human.agent_id == "jun"
            (connecting,) = await topics.outbound(
                1, lambda m: m.conversation_id == escalated.conversation_id)
            assert connecting.automation == "escalated" and "상담원에게 연결" in (
                connecting.text or "")

            # nobody replied within the support pool's 6-second first-reply target
            (breach,) = await topics.events(
                1, lambda e: e.kind == "sla_breached"
                and e.conversation_id == escalated.conversation_id, timeout=60)
            assert (breach.reason or "").startswith("first_reply target 6s passed")
            # the 3-second idle nudge is for a customer an agent answered, not for one still
            # waiting for an agent (user run 62 nudged two of those)
            nudged = await topics.outbound_so_far(
                lambda m: m.conversation_id == escalated.conversation_id
                and m.automation == "rule:nudge")
            assert nudged == []
            await produce(kafka_bootstrap, namespace + OUTBOUND.name, [(
                escalated.conversation_id.encode(), OutboundMessage(
                    event_id="jun-answers", conversation_id=escalated.conversation_id,
                    customer_id=escalated.customer_id, channel="sms",
                    channel_account=BUSINESS, recipient={"value": "+821055556666"},
                    author={"kind": "agent", "id": "jun"}, text="네, 도와드릴게요.",
                ).to_json_bytes())])
            (nudge,) = await topics.outbound(
                1, lambda m: m.conversation_id == escalated.conversation_id
                and m.automation == "rule:nudge", timeout=60)
            assert nudge.text == "아직 계신가요?"

            # 6. a mail: the acknowledgement and the survey answer it in its thread (a user
            # run's came as "Re: Your support request", the survey with no References)
            await asyncio.to_thread(_mail, int(env["OMNIROUTE_SMTP_PORT"]))
            (mailed,) = await topics.events(
                1, lambda e: e.kind == "assigned" and e.channel == "email", timeout=60)
            await topics.agent(AgentEvent(event_id="jun-resolves", agent_id="jun",
                                          kind="resolve", conversation_id=mailed.conversation_id))
            answers = await topics.outbound(
                2, lambda m: m.conversation_id == mailed.conversation_id)
            assert [m.automation for m in answers] == ["acknowledgement", "survey"], answers
            for answer in answers:
                assert answer.thread is not None, answer
                assert (answer.thread.subject, answer.thread.message_id) == (
                    "Changing my account email", "mail-1@customer.test"), answer

            reopened = await topics.events(1, lambda e: e.kind == "reopened", timeout=3)
            assert reopened == [], "a survey answer must not reopen the conversation"

            # 7. a signed-in web chat visitor, then an SMS from their verified phone: one
            # conversation, acknowledged once (a user run's got a second acknowledgement on
            # SMS: the phone's customer took the conversation over without automation's
            # memory of it). The "web" pool has no agent, so nobody takes it meanwhile.
            visitor = await _web_chat(base, "Hello, a question about my account please")
            (opened,) = await topics.events(
                1, lambda e: e.kind == "message_added" and e.channel == "webchat")
            (first,) = await topics.outbound(
                1, lambda m: m.conversation_id == opened.conversation_id)
            assert first.automation == "acknowledgement" and first.channel == "webchat"
            await visitor
            # the link reached the phone's customer: it took the conversation over
            await topics.requests(1, lambda r: r.conversation_id == opened.conversation_id
                                  and r.kind == "update")
            assert await text(base, "SMweb1", WEB_PHONE, "It's me again, by SMS") == 200
            (joined,) = await topics.events(
                1, lambda e: e.kind == "message_added" and e.channel == "sms"
                and e.conversation_id == opened.conversation_id)
            assert joined.customer_id != opened.customer_id  # taken over by the phone's id
            # the SMS names no intent of its own: the conversation stays about the account
            # (the latest triaged event is what history and reports file it under)
            (again,) = await topics.events(
                1, lambda e: e.kind == "triaged" and e.channel == "sms"
                and e.conversation_id == opened.conversation_id)
            assert again.triage["intent"] == "account", again.triage
            acks = await topics.outbound_so_far(  # `first` was read above
                lambda m: m.conversation_id == opened.conversation_id)
            assert [(m.automation, m.channel) for m in acks] == [
                ("acknowledgement", "webchat")], acks

            # 8. the worker restarts (SIGKILL; `up` starts it again) while jun is on duty with
            # a free slot. A user run's restarted worker knew no agent (its view of them came
            # from presence events it had read before) and told every new customer "later
            # today" while jun sat idle; it now starts from the routers' published staffing.
            # Heartbeats keep jun from being lost and are no presence news to the worker.
            await topics.agent(AgentEvent(event_id="jun-beat-1", agent_id="jun",
                                          kind="heartbeat"))
            await asyncio.to_thread(stack.kill, "worker")
            assert await asyncio.to_thread(stack.saw, "worker exited with code", 30)
            await topics.agent(AgentEvent(event_id="jun-beat-2", agent_id="jun",
                                          kind="heartbeat"))
            after = "+14155550142"
            assert await text(base, "SMafter1", after, "Hi, a question about my account") == 200
            (restarted,) = await topics.outbound(1, lambda m: m.recipient.value == after,
                                                 timeout=240)
            assert restarted.automation == "acknowledgement"
            assert "in a moment" in (restarted.text or ""), restarted.text

            # 9. an offer pending is no customer ahead: rita (two chats, accepting by hand)
            # has one offered, and the next customer has her other slot. User run 48's was
            # told "in about 2 minutes": the worker counted the offered conversation (it
            # sees no offers) as waiting ahead, and the router's free slots left it out too.
            await topics.agent(AgentEvent(event_id="rita-on", agent_id="rita",
                                          kind="presence", presence="available",
                                          pool="retention"))
            first_in = "+14155550161"
            assert await text(base, "SMcancel1", first_in, "Please cancel my subscription") \
                == 200
            (pending,) = await topics.outbound(1, lambda m: m.recipient.value == first_in,
                                               timeout=60)
            assert "in a moment" in (pending.text or ""), pending.text
            # the router's figures count the offer (not accepted: rita has no auto_accept)
            figures = await _pool_figures(
                stack.port("GATEWAY"), database_url, "retention",
                lambda p: p["offered"] == 1 and p["staffing"]["free_slots"] == 1)
            assert (figures["waiting"], figures["staffing"]["available"]) == (0, 1)
            second_in = "+14155550162"
            assert await text(base, "SMcancel2", second_in, "I want to cancel my plan") == 200
            (next_ack,) = await topics.outbound(1, lambda m: m.recipient.value == second_in,
                                                timeout=60)
            assert next_ack.automation == "acknowledgement"
            assert "in a moment" in (next_ack.text or ""), next_ack.text


WEB_SECRET = "automation-webchat-identity-secret-0001"
WEB_PHONE = "+821055500001"


async def _web_chat(base: str, text: str) -> asyncio.Task[None]:
    """A visitor signed in by the site (sub, email and phone verified) says ``text``; the
    returned task keeps the socket open a few seconds, as a visitor's browser would."""
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(base.replace("http", "ws") + "/webchat/ws")
    await ws.send_json({"type": "hello", "site": "acme.test", "identity_token": identity_token(
        WEB_SECRET, "cust-jo", email="jo@acme.test", phone=WEB_PHONE, name="Jo Kim")})
    assert (await ws.receive_json(timeout=20))["verified"]
    await ws.send_json({"type": "message", "client_message_id": "web-1", "text": text})
    assert (await ws.receive_json(timeout=20))["type"] == "ack"

    async def linger() -> None:
        try:
            await asyncio.sleep(3)
        finally:
            await ws.close()
            await session.close()

    return asyncio.create_task(linger())


def _mail(port: int) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"] = "Dana Kim <dana@customer.test>", MAILBOX
    mail["Subject"], mail["Message-ID"] = "Changing my account email", "<mail-1@customer.test>"
    mail.set_content("Hello, how do I change the email address on my account?")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.send_message(mail)


async def _first_reply_kind_once_open(base: str, topics: Topics, within: float = 60) -> str:
    """A new customer asks about a delivery every few seconds until automation's first reply
    is not out-of-office (the live configuration reached the worker); that reply's kind."""
    deadline = asyncio.get_running_loop().time() + within
    n = 0
    while asyncio.get_running_loop().time() < deadline:
        n += 1
        assert await text(base, f"SMopen{n}", f"+8210777700{n:02d}", "택배가 아직 안 왔어요") \
            == 200
        # the night customer's conversation was the first routed to delivery
        routed = await topics.events(n + 1, lambda e: e.kind == "triaged" and e.pool == "delivery")
        (reply,) = await topics.outbound(
            1, lambda m, c=routed[-1].conversation_id: m.conversation_id == c, timeout=20)
        if reply.automation != "out_of_office":
            return str(reply.automation)
        await asyncio.sleep(2)
    return "out_of_office"


async def _supervisor(database_url: str) -> dict[str, str]:
    """Headers signing a supervisor in to the gateway."""
    connection = await asyncpg.connect(database_url)
    try:
        token = await create_token(connection, "lead", Role.SUPERVISOR)
    finally:
        await connection.close()
    return {"Authorization": f"Bearer {token}"}


async def _pool_figures(gateway_port: int, database_url: str, pool: str,
                        until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """A pool's statistics as the routers publish them (``GET /api/v1/routing/stats``),
    once they satisfy ``until``."""
    url = f"http://127.0.0.1:{gateway_port}/api/v1/routing/stats"
    async with aiohttp.ClientSession(headers=await _supervisor(database_url)) as http:
        seen: dict[str, Any] = {}
        for _ in range(120):
            async with http.get(url) as response:
                pools = {p["pool"]: p for p in (await response.json())["pools"]}
            seen = pools.get(pool, {})
            if seen and until(seen):
                return seen
            await asyncio.sleep(0.5)
    raise AssertionError(f"the routers' figures of {pool} never came to that: {seen}")


async def _board_pool(gateway_port: int, database_url: str, conversation_id: str) -> str:
    """The pool the supervisor board shows a waiting conversation in, once it lists it."""
    async with aiohttp.ClientSession(headers=await _supervisor(database_url)) as http:
        for _ in range(60):
            async with http.get(f"http://127.0.0.1:{gateway_port}/api/v1/board") as response:
                board = await response.json()
            waiting = {w["conversation_id"]: w for w in board.get("waiting", [])}
            if conversation_id in waiting:
                return str(waiting[conversation_id]["pool"])
            await asyncio.sleep(0.5)
    raise AssertionError(f"the board never listed {conversation_id} as waiting")


async def _wait_for_row(database_url: str, conversation_id: str) -> asyncpg.Record:
    """The conversation's rating (csat_conversation_ratings), once the sink wrote it."""
    connection = await asyncpg.connect(database_url)
    try:
        for _ in range(120):
            row = await connection.fetchrow(
                "SELECT * FROM csat_conversation_ratings WHERE conversation_id = $1",
                conversation_id)
            if row is not None:
                return row
            await asyncio.sleep(0.5)
    finally:
        await connection.close()
    raise AssertionError(f"no csat_ratings row for {conversation_id}: "
                         f"{json.dumps(conversation_id)}")
