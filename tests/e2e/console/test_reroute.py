"""A supervisor re-routes offered work to another pool: one owner at a time.

User run 13 (2026-12-05): a billing email was offered to bo; the supervisor re-routed it
to support on the board, ada accepted it there, and billing, which had kept it, offered
it to bo again: bo accepted, and both held the conversation. Here the real chain runs
(ingress, worker, router, sink, gateway as subprocesses), a customer's signed Twilio
webhook comes in, and everything else goes through the gateway's API: the offer to bo is
rescinded the moment the conversation moves, bo's late accept assigns nothing, ada (no
billing skill) gets it in support, and the customer's next message stays with her. The
customer's WhatsApp message before ada accepts labels the conversation in her list.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlencode

import aiohttp
import asyncpg

from e2e.console.test_console import PROCESSES, Chain, running_chain, wait_ready
from harness.kafka import consume
from harness.ports import free_port
from harness.ready import ready
from omniroute.contract import AssignmentEvent, AssignmentKind, ConversationEvent
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.settings import Settings
from omniroute_connectors.signatures import twilio_signature

TOKEN = "twilio-token-reroute"
ROUTING = """
[routing]
default_pool = "support"

[[routing.rules]]
skill = "billing"
pool = "billing"

[pools.support]
offer_timeout_s = 300
heartbeat_grace_s = 300

[pools.billing]
offer_timeout_s = 300
heartbeat_grace_s = 300

[agents.ada]
pool = "support"
capacity = 1

[agents.bo]
pool = "billing"
capacity = 3
skills = { billing = 5 }
"""
AUTOMATION = """
[defaults]
acknowledgement = false
survey = false

[defaults.skills]
refund = "billing"
"""


async def call(session: aiohttp.ClientSession, base: str, token: str, method: str, path: str,
               body: dict[str, Any] | None = None) -> tuple[int, Any]:
    async with session.request(method, f"{base}/api/v1{path}", json=body,
                               headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.json(content_type=None)


async def sms(session: aiohttp.ClientSession, ingress: str, n: int, text: str,
              on: str = "", phone: str = "+14155550123") -> None:
    """The customer's SMS (``on="whatsapp:"``: WhatsApp message) as Twilio posts it, signed."""
    pairs = [("MessageSid", f"SM{n:032d}"), ("AccountSid", "AC" + "0" * 32),
             ("From", f"{on}{phone}"), ("To", f"{on}+14155550000"), ("Body", text),
             ("NumMedia", "0")]
    url = f"{ingress}/webhooks/twilio"
    async with session.post(url, data=urlencode(pairs), headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(TOKEN, url, pairs)}) as response:
        assert response.status == 200, await response.text()


async def until(check: Any, what: str, timeout: float = 120) -> Any:
    """Poll ``check()`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"never: {what}")


WITH_INGRESS = {**PROCESSES, "ingress": ("ingress",)}
"""The chain's processes and the ingress, for the customers' signed webhooks."""


def with_ingress(tmp_path: Path, automation_config: str = AUTOMATION
                 ) -> tuple[str, dict[str, str]]:
    """The ingress's URL and the chain's environment for it: Twilio's token, automation
    (by default without acknowledgements or surveys: :data:`AUTOMATION`)."""
    port = free_port()
    ingress = f"http://127.0.0.1:{port}"
    automation = tmp_path / "automation.toml"
    automation.write_text(automation_config)
    return ingress, {
        "OMNIROUTE_INGRESS_PORT": str(port), "OMNIROUTE_SMTP_PORT": str(free_port()),
        "OMNIROUTE_TWILIO_AUTH_TOKEN": TOKEN, "OMNIROUTE_AUTOMATION_CONFIG": str(automation),
        "OMNIROUTE_PUBLIC_BASE_URL": ingress}


class Served(NamedTuple):
    """A running chain with its ingress (:func:`served`)."""

    chain: Chain
    ingress: str
    session: aiohttp.ClientSession
    api: Callable[..., Awaitable[tuple[int, Any]]]
    """``api(who, method, path, body=None)``: the gateway's API as ``who``."""


@asynccontextmanager
async def served(topics: Settings, database_url: str, tmp_path: Path, roles: dict[str, Role],
                 routing: str, automation_config: str = AUTOMATION) -> AsyncIterator[Served]:
    """The chain and its ingress (:func:`with_ingress`), running with ``routing``, with a
    token for each of ``roles`` and the API called as each."""
    conn = await asyncpg.connect(database_url)
    try:
        tokens = {who: await create_token(conn, who, role) for who, role in roles.items()}
    finally:
        await conn.close()
    ingress, env = with_ingress(tmp_path, automation_config)
    with running_chain(topics, database_url, tmp_path, WITH_INGRESS, routing, env) as chain:
        await wait_ready(chain)
        async with aiohttp.ClientSession() as session:
            def api(who: str, method: str, path: str, body: dict[str, Any] | None = None
                    ) -> Awaitable[tuple[int, Any]]:
                return call(session, chain.url, tokens[who], method, path, body)

            yield Served(chain, ingress, session, api)


async def test_a_rerouted_offer_has_one_owner(topics: Settings, database_url: str,
                                              tmp_path: Path) -> None:
    roles = {"ada": Role.AGENT, "bo": Role.AGENT, "sue": Role.SUPERVISOR}
    async with served(topics, database_url, tmp_path, roles, ROUTING) as (
            chain, ingress, session, api):
        for who in ("ada", "bo"):
            assert (await api(who, "POST", "/presence", {"presence": "available"}))[0] == 202
        await until(lambda: ready(session, ingress), "the ingress answers")
        await sms(session, ingress, 1, "I was charged twice, please refund")

        async def offer_of(who: str) -> Any:
            _, body = await api(who, "GET", "/offers")
            return (body or {}).get("offers") or None

        [stale] = await until(lambda: offer_of("bo"), f"an offer to bo\n{chain.tails()}")
        conversation = stale["conversation_id"]
        assert stale["pool"] == "billing"

        status, moved = await api("sue", "POST", f"/conversations/{conversation}/reroute",
                                  {"pool": "support"})
        assert status == 202, moved
        [fresh] = await until(lambda: offer_of("ada"), f"an offer to ada\n{chain.tails()}")
        assert (fresh["conversation_id"], fresh["pool"]) == (conversation, "support")
        # bo's offer is gone at once (not after its 300 s timeout)
        await until(lambda: _no_offer(api, "bo"), "bo's offer rescinded")
        # meanwhile the customer writes again, on WhatsApp from the same phone
        await sms(session, ingress, 3, "my order number is 4711", on="whatsapp:")
        await until(lambda: _stored(database_url, conversation, "message_added", 2),
                    f"the WhatsApp message in the conversation\n{chain.tails()}")
        # bo answers the offer he had seen: nothing is assigned to him
        await api("bo", "POST", f"/offers/{stale['offer_id']}/accept",
                  {"conversation_id": conversation})
        assert (await api("ada", "POST", f"/offers/{fresh['offer_id']}/accept",
                          {"conversation_id": conversation}))[0] == 202
        # ada's list names the channel the customer wrote on last, where her reply goes:
        # the router's `assigned` (naming the SMS the work began with) came after the
        # WhatsApp message and relabelled it "sms" (user run 22)
        await until(lambda: _stored(database_url, conversation, "assigned", 1),
                    f"ada's assignment in history\n{chain.tails()}")
        _, listed = await api("ada", "GET", "/conversations")
        assert [(c["conversation_id"], c["channel"]) for c in listed["conversations"]] == [
            (conversation, "whatsapp")], listed
        await sms(session, ingress, 2, "any news on my refund?")

        assignments = await consume(
            topics.kafka_bootstrap, topics.topic("omniroute.assignments.v1"), 100,
            timeout=15, where=lambda r: AssignmentEvent.from_json_bytes(
                r.value).conversation_id == conversation)
        seen = [(e.kind, e.agent_id, e.pool) for e in sorted(
            (AssignmentEvent.from_json_bytes(r.value) for r in assignments),
            key=lambda e: e.occurred_at)]  # (keyed by agent: partitions interleave)
        assert (AssignmentKind.RESCINDED, "bo", "billing") in seen, seen
        assert [s for s in seen if s[0] is AssignmentKind.ASSIGNED] == [
            (AssignmentKind.ASSIGNED, "ada", "support")], seen
        assert [s for s in seen if s[0] is AssignmentKind.OFFERED] == [
            (AssignmentKind.OFFERED, "bo", "billing"),
            (AssignmentKind.OFFERED, "ada", "support")], seen
        events = await consume(
            topics.kafka_bootstrap, topics.topic("omniroute.conversations.v1"), 1,
            where=lambda r: (e := ConversationEvent.from_json_bytes(r.value)).kind.value
            == "rerouted" and e.conversation_id == conversation)
        assert ConversationEvent.from_json_bytes(events[0].value).pool == "support"
        _, listed = await api("bo", "GET", "/conversations")
        assert [c["conversation_id"] for c in listed["conversations"]] == []
        _, board = await api("sue", "GET", "/board")
        held = {a["agent_id"]: a["conversations"] for a in board["agents"]}
        assert (held["ada"], held["bo"]) == ([conversation], []), held
        assert moved["pool"] == "support"  # the answer names where it went

        # ada hands it back to billing, saying why; bo, who gets it, reads who had it,
        # where it went and why in its activity (user run 42: he read nothing of it)
        assert (await api("ada", "POST", f"/conversations/{conversation}/transfer",
                          {"target_pool": "billing", "reason": "wants a refund"}))[0] == 202
        [back] = await until(lambda: offer_of("bo"), f"bo's offer\n{chain.tails()}")
        assert (await api("bo", "POST", f"/offers/{back['offer_id']}/accept",
                          {"conversation_id": conversation}))[0] == 202

        async def activity() -> Any:
            status, view = await api("bo", "GET", f"/conversations/{conversation}")
            lines = [(a["kind"], a["agent_id"], a["pool"], a["from_agent"], a["to_pool"],
                      a["reason"]) for a in (view or {}).get("activity", [])]
            return lines if status == 200 and lines and lines[-1][:2] == ("assigned", "bo") \
                else None

        lines = await until(activity, f"bo's assignment in history\n{chain.tails()}")
        assert lines[-2:] == [  # the transfer names the pool it went to (since 2026-12-07)
            ("transferred", None, "billing", "ada", "billing", "wants a refund"),
            ("assigned", "bo", "billing", None, None, "offer accepted")], lines
        assert ("assigned", "ada", "support", None, None, "offer accepted") in lines

        # ada takes another customer's SMS (her one slot); the supervisor reassigns bo's
        # conversation to her: it waits for her, and the board says so (user run 45's
        # board said "—", as if it waited for anyone)
        await sms(session, ingress, 4, "where is my parcel?", phone="+14155550177")
        [parcel] = await until(lambda: offer_of("ada"), f"ada's offer\n{chain.tails()}")
        assert (await api("ada", "POST", f"/offers/{parcel['offer_id']}/accept",
                          {"conversation_id": parcel["conversation_id"]}))[0] == 202
        await until(lambda: _stored(database_url, parcel["conversation_id"], "assigned", 1),
                    f"ada's second assignment in history\n{chain.tails()}")
        status, body = await api("sue", "POST", f"/conversations/{conversation}/transfer",
                                 {"target_agent_id": "ada",
                                  "reason": "reassigned by supervisor"})
        assert status == 202, body

        async def kept() -> Any:
            _, board = await api("sue", "GET", "/board")
            rows = [w for w in board["waiting"] if w["conversation_id"] == conversation]
            return rows[0] if rows and rows[0]["transferred_to"] else None

        row = await until(kept, f"the board's row kept for ada\n{chain.tails()}")
        assert (row["transferred_to"], row["offered_to"]) == ("ada", None), row
        pinned = datetime.fromisoformat(row["pinned_until"]) - datetime.now(UTC)
        assert timedelta(seconds=240) < pinned <= timedelta(seconds=300), row  # transfer_pin_s
        # her slot frees: the conversation is offered to her, not to anyone else
        assert (await api("ada", "POST", f"/conversations/{parcel['conversation_id']}/resolve",
                          {}))[0] == 202
        [kept_offer] = await until(lambda: offer_of("ada"), f"the kept offer\n{chain.tails()}")
        assert kept_offer["conversation_id"] == conversation


async def _no_offer(api: Any, who: str) -> bool:
    _, body = await api(who, "GET", "/offers")
    return not (body or {}).get("offers")


async def _stored(database_url: str, conversation: str, kind: str, count: int) -> bool:
    """Whether history holds ``count`` (or more) events of ``kind`` for the conversation."""
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval(
            "SELECT count(*) FROM conversation_events WHERE conversation_id = $1 AND kind = $2",
            conversation, kind)
    finally:
        await conn.close()
    return bool(stored >= count)
