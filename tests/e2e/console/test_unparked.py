"""Parked work routed again leaves the supervisor board's parked list at once.

User run 51 (2026-12-07): an admin had cleared the default pool, so a Telegram customer's
conversation was parked ("no pool: …"). He set the default pool again and the supervisor
re-routed the conversation from the board. Every agent of the pool was at capacity, so it
waited in the queue, but the board kept it under *parked*, with the old reason, and out of
the pool's waiting count, until an agent was offered it: history had no word of it leaving
parking. The pool that queues a parked conversation now says so (a ``rerouted`` event
naming the pool and why), for a supervisor's re-route and for a customer writing again.

The real chain runs (ingress, worker, router, sink, gateway as subprocesses); customers
write signed Twilio webhooks; everything else goes through the gateway's API.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from e2e.console.test_reroute import served, sms, until
from harness.kafka import consume
from harness.ready import ready
from omniroute.contract import ConversationEvent, OutboundMessage
from omniroute.gateway.auth import Role
from omniroute.settings import Settings

ROUTING = """
[[routing.rules]]
channel = "email"
pool = "mail"

[pools.mail]

[pools.support]
offer_timeout_s = 300
heartbeat_grace_s = 300

[agents.ada]
pool = "support"
capacity = 1

[agents.mo]
pool = "mail"
capacity = 2
"""


ACKNOWLEDGING = """
[defaults]
acknowledgement = true
survey = false
"""


def acknowledgement(record: Any) -> bool:
    return OutboundMessage.from_json_bytes(record.value).automation == "acknowledgement"


async def test_a_parked_conversation_routed_again_waits_on_the_board(
        topics: Settings, database_url: str, tmp_path: Path) -> None:
    roles = {"mo": Role.AGENT, "sue": Role.SUPERVISOR, "max": Role.ADMIN}
    async with served(topics, database_url, tmp_path, roles, ROUTING, ACKNOWLEDGING) as (
            chain, ingress, session, api):
        async def board() -> Any:
            status, found = await api("sue", "GET", "/board")
            assert status == 200, found
            return found

        async def parked_ids() -> set[str]:
            return {p["conversation_id"] for p in (await board())["parked"]}

        await until(lambda: ready(session, ingress), "the ingress answers")
        # mo (mail) has free slots; nobody in support; no pool takes an SMS: both
        # customers are parked
        assert (await api("mo", "POST", "/presence", {"presence": "available"}))[0] == 202

        async def mo_counted() -> bool:
            _, found = await api("sue", "GET", "/board")
            return any(a["agent_id"] == "mo" and a["status"] == "online"
                       for a in found["agents"])

        await until(mo_counted, f"mo available\n{chain.tails()}")
        await asyncio.sleep(3)  # the routers' staffing figures (every 2 s) count him
        await sms(session, ingress, 1, "is my order shipped?", phone="+14155550101")
        await sms(session, ingress, 2, "do you sell gift cards?", phone="+14155550102")

        async def two_parked() -> Any:
            found = await parked_ids()
            return found if len(found) == 2 else None

        parked = await until(two_parked, f"two parked conversations\n{chain.tails()}")
        # they were not promised an agent "in a moment" (user run 52: every pool's free
        # slots counted for a conversation no pool takes)
        told = [OutboundMessage.from_json_bytes(r.value).text or "" for r in await consume(
            topics.kafka_bootstrap, topics.topic("omniroute.outbound.v1"), 2,
            where=acknowledgement)]
        assert len(told) == 2 and all("later today" in text for text in told), told
        status, saved = await api("max", "PUT", "/admin/routing", {
            "rules": [{"channel": "email", "pool": "mail"}], "default_pool": "support"})
        assert status in (200, 202), saved

        # the supervisor re-routes the first; the second customer writes again
        rows = {p["conversation_id"]: p for p in (await board())["parked"]}
        first = next(c for c, p in rows.items() if p["customer_name"].endswith("0101")
                     or "0101" in (p["customer_id"] or ""))
        second = next(c for c in parked if c != first)
        status, body = await api("sue", "POST", f"/conversations/{first}/reroute", {})
        assert status == 202, body
        await sms(session, ingress, 3, "hello? anyone?", phone="+14155550102")

        async def both_waiting() -> Any:
            found = await board()
            waiting = {w["conversation_id"]: w["pool"] for w in found["waiting"]}
            return found if not found["parked"] and set(waiting) == parked else None

        found = await until(both_waiting, f"both waiting, none parked\n{chain.tails()}")
        assert {w["conversation_id"]: w["pool"] for w in found["waiting"]} == {
            first: "support", second: "support"}
        support = {p["pool"]: p for p in found["pools"]}["support"]
        assert support["waiting"] == 2

        events = await consume(
            topics.kafka_bootstrap, topics.topic("omniroute.conversations.v1"), 2,
            where=lambda r: ConversationEvent.from_json_bytes(r.value).kind.value
            == "rerouted")
        said = {e.conversation_id: (e.pool, e.reason) for e in
                (ConversationEvent.from_json_bytes(r.value) for r in events)}
        assert said[first] == ("support", "re-routed by sue"), said
        assert said[second][0] == "support", said
        assert (said[second][1] or "").startswith("customer wrote while parked"), said
        # the conversation's activity says where it went, and why
        _, view = await api("sue", "GET", f"/conversations/{first}")
        assert ("rerouted", "support", "re-routed by sue") in [
            (a["kind"], a["pool"], a["reason"]) for a in view["activity"]], view
