"""The admin API, the supervisor board, re-route and dead-letter replay against a running
gateway, the real broker (live configuration topic) and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import aiohttp
import asyncpg
import pytest

from harness.kafka import consume, consume_all, produce
from harness.ports import free_port
from integration.gateway.test_gateway import Setup
from integration.history.factories import added, assignment, inbound, opened
from integration.routing.test_live import answers, route, running
from omniroute.contract import (
    AgentEvent,
    AgentEventKind,
    AssignmentEvent,
    AssignmentKind,
    ConversationEvent,
    ConversationEventKind,
    DeadLetter,
    Presence,
    utcnow,
)
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.gateway.server import running_gateway
from omniroute.history.sink import HistorySink
from omniroute.history.store import write_batch
from omniroute.routing.entry import request_of
from omniroute.routing.live import read_config
from omniroute.routing.requests import RoutingRequest
from omniroute.routing.statsfeed import publish_stats
from omniroute.routing.wire import POOL_TOPIC
from omniroute.settings import Settings

ROUTING = "omniroute.internal.routing-requests"


@pytest.fixture
async def gateway(topics: Settings, database_url: str) -> AsyncIterator[Setup]:
    """Tokens for an admin, a supervisor and an agent; an empty history."""
    conn = await asyncpg.connect(database_url)
    try:
        tokens = {who: await create_token(conn, who, role) for who, role in
                  (("root", Role.ADMIN), ("boss", Role.SUPERVISOR), ("a1", Role.AGENT))}
    finally:
        await conn.close()
    async with running_gateway(topics, database_url, port=free_port()) as running, \
            aiohttp.ClientSession() as http:
        yield Setup(running.url, topics, tokens, http)


@asynccontextmanager
async def routed(gateway: Setup, database_url: str) -> AsyncIterator[None]:
    """The real router and history sink running, with a1 available (his console's choice)."""
    stop = asyncio.Event()
    sink = asyncio.create_task(HistorySink(gateway.settings, database_url,
                                           batch_size=50).run(stop))
    try:
        async with running(gateway.settings):
            assert (await gateway.call("POST", "/presence", "a1",
                                       {"presence": "available"}))[0] == 202
            yield
    finally:
        stop.set()
        await sink


async def audit_rows(database_url: str, action: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch("SELECT actor, subject, detail FROM audit_log "
                                "WHERE action = $1 ORDER BY id", action)
    finally:
        await conn.close()


class TestLiveAdministration:
    async def test_changes_are_versions_on_the_live_topic_and_audited_with_a_diff(
            self, gateway: Setup, database_url: str) -> None:
        """A pool then an agent with a skill: versions 1 and 2, readable by every router;
        the audit log says who changed what; an unchanged save publishes nothing."""
        status, before = await gateway.call("GET", "/admin/config", "root")
        assert (status, before["version"]) == (200, 0)  # the built-in configuration
        status, first = await gateway.call("PUT", "/admin/pools/support", "root",
                                           {"offer_timeout_s": 60, "queue_cap": 20})
        assert (status, first["version"], first["published"]) == (200, 1, True)
        agent = {"pool": "support", "capacity": 2, "skills": {"korean": 4},
                 "channels": {"email": {"cap": 1}}}
        status, second = await gateway.call("PUT", "/admin/agents/ada", "root", agent)
        assert (status, second["version"]) == (200, 2)
        assert second["changes"] == [{"path": "agents.ada", "before": None, "after": {
            "pool": "support", "capacity": 2, "channels": {"email": {"weight": 1, "cap": 1}},
            "skills": {"korean": 4}, "auto_accept": False}}]
        version, config = await read_config(gateway.settings)
        assert version == 2 and config.agents["ada"]["skills"] == {"korean": 4}
        again = await gateway.call("PUT", "/admin/agents/ada", "root", agent)
        assert again[1]["published"] is False and again[1]["version"] == 2  # type: ignore[index]
        rows = await audit_rows(database_url, "config.changed")
        assert [(r["actor"], r["subject"]) for r in rows] == [
            ("admin:root", "version 1"), ("admin:root", "version 2")]
        assert json.loads(rows[1]["detail"])["changes"][0]["path"] == "agents.ada"

    async def test_a_change_that_will_not_work_as_meant_is_published_with_a_warning(
            self, gateway: Setup) -> None:
        """User run 45: a rule sent skill billing to the billing pool, but no agent had the
        skill, so triage never asked for it and every refund went to the default pool
        without a word. The change's answer says so, and stops saying it once bo has it."""
        await gateway.call("PUT", "/admin/pools/billing", "root", {})
        await gateway.call("PUT", "/admin/pools/support", "root", {})
        await gateway.call("PUT", "/admin/agents/ada", "root", {"pool": "support"})
        status, routed = await gateway.call("PUT", "/admin/routing", "root", {
            "default_pool": "support", "rules": [{"skill": "billing", "pool": "billing"}]})
        assert (status, routed["published"]) == (200, True), routed  # type: ignore[index]
        assert routed["warnings"] == [  # type: ignore[index]
            "rule 1 (skill billing → pool billing) never matches: no agent has the skill billing",
            "pool billing has no agents: what the rules send there waits until one is added"]
        status, staffed = await gateway.call("PUT", "/admin/agents/bo", "root",
                                             {"pool": "billing", "skills": {"billing": 1}})
        assert (status, staffed["warnings"]) == (200, []), staffed  # type: ignore[index]

    async def test_refusals_name_the_problem_and_change_nothing(self, gateway: Setup) -> None:
        """Non-admins get 403; an agent in an unknown pool is 400; a stale If-Match is 412."""
        assert (await gateway.call("GET", "/admin/config", "boss"))[0] == 403
        assert (await gateway.call("PUT", "/admin/pools/p", "a1", {}))[0] == 403
        status, body = await gateway.call("PUT", "/admin/agents/ada", "root", {"pool": "nope"})
        assert status == 400 and "undefined pool 'nope'" in body["error"]["message"]  # type: ignore[index]
        status, body = await gateway.call("PUT", "/admin/agents/ada", "root",
                                          {"pool": "default", "skills": {"x": 99}})
        assert status == 400 and body["error"]["message"].startswith("skills.x")  # type: ignore[index]
        async with gateway.http.put(f"{gateway.url}/api/v1/admin/pools/p", json={},
                                    headers={**gateway.auth("root"), "If-Match": "7"}) as r:
            assert r.status == 412
        assert (await read_config(gateway.settings))[0] == 0

    async def test_toml_export_and_import(self, gateway: Setup, database_url: str) -> None:
        """Export the live configuration, edit it, import it: a new version with the edit."""
        await gateway.call("PUT", "/admin/agents/ada", "root", {"pool": "default"})
        async with gateway.http.get(f"{gateway.url}/api/v1/admin/config.toml",
                                    headers=gateway.auth("root")) as r:
            text = await r.text()
        assert r.status == 200 and "[agents.ada]" in text and "version 1" in text
        assert "capacity = 1\n" in text
        edited = text.replace("capacity = 1\n", "capacity = 4\n")
        async with gateway.http.put(f"{gateway.url}/api/v1/admin/config.toml?reason=git",
                                    data=edited, headers=gateway.auth("root")) as r:
            outcome = await r.json()
        assert outcome["version"] == 2
        assert outcome["changes"] == [{"path": "agents.ada.capacity", "before": 1,
                                       "after": 4}]
        async with gateway.http.put(f"{gateway.url}/api/v1/admin/config.toml",
                                    data="[pools", headers=gateway.auth("root")) as r:
            assert r.status == 400
        assert json.loads((await audit_rows(database_url, "config.changed"))[1]["detail"])[
            "reason"] == "git"

    async def test_the_answer_bot_is_switched_and_tuned_live(
            self, gateway: Setup, database_url: str) -> None:
        """PUT /admin/bot: a version with the [bot] table (the workers running the bot read
        it), audited; the TOML export carries it and imports back; a bad value is 400 and
        only an admin may."""
        status, body = await gateway.call("PUT", "/admin/bot", "root",
                                          {"enabled": False, "channels": ["whatsapp"],
                                           "threshold": 0.5})
        assert (status, body["version"]) == (200, 1), body
        assert body["changes"][0]["path"] == "bot"  # type: ignore[index]
        version, config = await read_config(gateway.settings)
        assert version == 1 and config.bot["enabled"] is False
        assert config.bot["channels"] == ["whatsapp"] and config.bot["threshold"] == 0.5
        status, body = await gateway.call("PUT", "/admin/bot", "root", {"enabled": True})
        assert body["changes"] == [  # type: ignore[index]
            {"path": "bot.channels", "before": ["whatsapp"], "after": None},
            {"path": "bot.enabled", "before": False, "after": True},
            {"path": "bot.threshold", "before": 0.5, "after": 0.4}]
        async with gateway.http.get(f"{gateway.url}/api/v1/admin/config.toml",
                                    headers=gateway.auth("root")) as r:
            text = await r.text()
        assert "[bot]\nenabled = true\n" in text
        async with gateway.http.put(f"{gateway.url}/api/v1/admin/config.toml", data=text,
                                    headers=gateway.auth("root")) as r:
            imported = await r.json()
            assert r.status == 200 and imported["published"] is False, imported
        status, body = await gateway.call("PUT", "/admin/bot", "root", {"threshold": 2})
        assert status == 400 and "threshold" in body["error"]["message"]  # type: ignore[index]
        assert (await gateway.call("PUT", "/admin/bot", "boss", {"enabled": False}))[0] == 403
        assert (await read_config(gateway.settings))[0] == 2
        rows = await audit_rows(database_url, "config.changed")
        assert [json.loads(r["detail"])["reason"] for r in rows] == ["answer bot off",
                                                                     "answer bot on"]


    async def test_versions_are_listed_and_an_earlier_one_is_restored(
            self, gateway: Setup, database_url: str) -> None:
        """GET /admin/config/versions lists who changed what, newest first, the live one
        marked; POST .../versions/N/restore publishes N again as a new version (the routers'
        topic has it), audited with the diff; If-Match guards it, an unknown or non-numeric
        version and a non-admin are refused and publish nothing."""
        await gateway.call("PUT", "/admin/pools/support", "root", {})  # v1
        await gateway.call("PUT", "/admin/agents/kai", "root", {"pool": "support"})  # v2
        await gateway.call("PUT", "/admin/agents/jun", "root",
                           {"pool": "support", "capacity": 3})  # v3
        status, body = await gateway.call("DELETE", "/admin/agents/kai", "root")  # v4
        assert (status, body["version"]) == (200, 4)
        status, listed = await gateway.call("GET", "/admin/config/versions", "root")
        assert status == 200 and listed["live"] == 4
        versions = listed["versions"]
        assert [(v["version"], v["live"], v["reason"], v["agents"]) for v in versions] == [  # type: ignore[union-attr,index]
            (4, True, "agent kai removed", 1), (3, False, "agent jun saved", 2),
            (2, False, "agent kai saved", 1), (1, False, "pool support saved", 0)]
        assert versions[0]["actor"] == "admin:root" and "support" in versions[0]["pools"]  # type: ignore[index]
        status, newest = await gateway.call("GET", "/admin/config/versions?limit=1", "root")
        assert [v["version"] for v in newest["versions"]] == [4]  # type: ignore[union-attr,index]

        async with gateway.http.post(f"{gateway.url}/api/v1/admin/config/versions/3/restore",
                                     json={"reason": "kai is on shift"},
                                     headers={**gateway.auth("root"), "If-Match": "3"}) as r:
            assert r.status == 412  # the list the admin saw is stale: nothing restored
        assert (await read_config(gateway.settings))[0] == 4
        for path, who, expected in (("3/restore", "boss", 403), ("99/restore", "root", 404),
                                    ("v3/restore", "root", 400)):
            status, body = await gateway.call("POST", f"/admin/config/versions/{path}",
                                              who, {})
            assert status == expected, (path, body)
        assert "v1 to v4" in (await gateway.call(
            "POST", "/admin/config/versions/99/restore", "root", {}))[1]["error"]["message"]  # type: ignore[index]
        assert (await read_config(gateway.settings))[0] == 4

        async with gateway.http.post(f"{gateway.url}/api/v1/admin/config/versions/3/restore",
                                     json={"reason": "kai is on shift"},
                                     headers={**gateway.auth("root"), "If-Match": "4"}) as r:
            restored = await r.json()
            assert r.status == 200 and r.headers["ETag"] == "5", restored
        assert (restored["version"], restored["restored"], restored["published"]) == (5, 3, True)
        assert restored["changes"] == [{"path": "agents.kai", "before": None, "after": {
            "pool": "support", "capacity": 1, "auto_accept": False}}]
        version, config = await read_config(gateway.settings)
        assert version == 5 and set(config.agents) == {"kai", "jun"}
        assert config.agents["jun"]["capacity"] == 3
        status, again = await gateway.call("POST", "/admin/config/versions/5/restore", "root", {})
        assert (status, again["published"], again["version"]) == (200, False, 5)  # the live one
        status, listed = await gateway.call("GET", "/admin/config/versions", "root")
        assert [(v["version"], v["live"], v["reason"]) for v in listed["versions"][:2]] == [  # type: ignore[index]
            (5, True, "rollback to v3: kai is on shift"), (4, False, "agent kai removed")]
        rows = await audit_rows(database_url, "config.changed")
        assert [(r["subject"], json.loads(r["detail"])["reason"]) for r in rows][-1] == (
            "version 5", "rollback to v3: kai is on shift")


    async def test_an_agent_put_back_by_a_restore_is_offered_work_without_choosing_again(
            self, gateway: Setup, database_url: str) -> None:
        """User run 20: an admin removed a1 and restored the version naming him while his
        console said "available"; the router had him offline and offered the customer
        waiting in his pool to nobody. His app's heartbeat now carries the presence it
        shows, and the pool that has not heard his since he came back takes it. Router,
        sink and gateway are the real ones; a1 only heartbeats, as his console does."""
        settings = gateway.settings
        await gateway.call("PUT", "/admin/pools/support", "root", {"heartbeat_grace_s": 3600})
        await gateway.call("PUT", "/admin/routing", "root", {"default_pool": "support"})
        status, body = await gateway.call("PUT", "/admin/agents/a1", "root", {"pool": "support"})
        assert status == 200, body
        named = body["version"]
        async with routed(gateway, database_url):
            for _ in range(100):  # the sink recorded his choice: his console shows it
                if (await gateway.call("GET", "/me", "a1"))[1]["presence"] == "available":
                    break
                await asyncio.sleep(0.2)
            status, body = await gateway.call("DELETE", "/admin/agents/a1", "root")
            assert status == 200, body
            await produce(settings.kafka_bootstrap, settings.topic(ROUTING),
                          [(b"conv-back", route(77).model_copy(update={
                              "conversation_id": "conv-back"}).to_json_bytes())])
            status, body = await gateway.call(
                "POST", f"/admin/config/versions/{named}/restore", "root", {})
            assert (status, body["published"]) == (200, True), body

            async def console() -> None:  # a1's console, every second instead of 20 s
                while True:
                    async with gateway.http.post(f"{gateway.url}/api/v1/heartbeat",
                                                 headers=gateway.auth("a1")) as r:
                        assert r.status == 202, await r.text()
                    await asyncio.sleep(1)

            beating = asyncio.create_task(console())
            try:
                (offer,) = await answers(settings, 1, kind="offered", agent_id="a1")
            finally:
                beating.cancel()
            assert (offer.conversation_id, offer.pool) == ("conv-back", "support")
            assert (await gateway.call("GET", "/me", "a1"))[1]["presence"] == "available"


    async def test_an_agent_moved_to_another_pool_keeps_the_conversations_she_holds(
            self, gateway: Setup, database_url: str) -> None:
        """User run 21: root moved ada from support to billing, and the customer she was
        talking to went back to support's queue, to be offered to someone else. The real
        router, sink and gateway: a1 accepts a customer in support, an admin moves him to
        billing, and the conversation stays his (assigned again by billing, no revoke); his
        resolve, which now reaches billing, closes it there."""
        settings = gateway.settings
        for pool in ("support", "billing"):
            assert (await gateway.call("PUT", f"/admin/pools/{pool}", "root",
                                       {"heartbeat_grace_s": 3600}))[0] == 200
        await gateway.call("PUT", "/admin/routing", "root", {"default_pool": "support"})
        assert (await gateway.call("PUT", "/admin/agents/a1", "root",
                                   {"pool": "support"}))[0] == 200
        async with routed(gateway, database_url):
            await produce(settings.kafka_bootstrap, settings.topic(ROUTING),
                          [(b"conv-kept", route(78).model_copy(update={
                              "conversation_id": "conv-kept"}).to_json_bytes())])
            (offer,) = await answers(settings, 1, kind="offered", agent_id="a1")
            assert (await gateway.call("POST", f"/offers/{offer.offer_id}/accept", "a1",
                                       {"conversation_id": "conv-kept"}))[0] == 202
            await answers(settings, 1, kind="assigned", agent_id="a1", pool="support")
            for _ in range(100):  # history has him holding it: the gateway lets him act
                listed = (await gateway.call("GET", "/conversations", "a1"))[1]
                if [c["conversation_id"] for c in listed["conversations"]] == ["conv-kept"]:
                    break
                await asyncio.sleep(0.2)

            status, body = await gateway.call("PUT", "/admin/agents/a1", "root",
                                              {"pool": "billing"})
            assert status == 200, body
            (kept,) = await answers(settings, 1, kind="assigned", agent_id="a1",
                                    pool="billing")
            assert kept.conversation_id == "conv-kept"
            revoked = await consume(
                settings.kafka_bootstrap, settings.topic("omniroute.assignments.v1"), 1,
                timeout=3, where=lambda r: AssignmentEvent.from_json_bytes(r.value).kind
                is AssignmentKind.REVOKED)
            assert revoked == []
            assert (await gateway.call("POST", "/conversations/conv-kept/resolve",
                                       "a1", {}))[0] == 202
            (done,) = await answers(settings, 1, kind="completed", agent_id="a1")
            assert (done.conversation_id, done.pool) == ("conv-kept", "billing")


async def history_for_board(database_url: str) -> None:
    """c1 waiting, c2 parked (no pool), c3 held by a1 (available, heard from just now)."""
    now = utcnow()
    m1, m2, m3 = (inbound(n, text=f"m{n}", at=now - timedelta(minutes=10),
                          sender=f"+1415555010{n}") for n in (1, 2, 3))
    parked = ConversationEvent(event_id="park-c2", conversation_id="c2", customer_id="k2",
                               kind=ConversationEventKind.PARKED, reason="no pool: none matches",
                               occurred_at=now)
    presence = AgentEvent(event_id="p-a1", agent_id="a1", kind=AgentEventKind.PRESENCE,
                          presence=Presence.AVAILABLE, occurred_at=now)
    conn = await asyncpg.connect(database_url)
    try:
        events: list[tuple[str, object]] = []
        for n, message in ((1, m1), (2, m2), (3, m3)):
            events += [("conversations", opened(f"c{n}", f"k{n}", at=message.occurred_at)),
                       ("inbound", message),
                       ("conversations", added(message, conversation=f"c{n}",
                                               customer=f"k{n}"))]
        events += [("conversations", parked), ("assignments", assignment("a1", "c3")),
                   ("agent-events", presence)]
        await write_batch(conn, events)  # type: ignore[arg-type]
    finally:
        await conn.close()


class TestSupervisorBoard:
    async def test_board_counts_waiting_parked_and_agents(
            self, gateway: Setup, database_url: str) -> None:
        """One waiting (c1), one parked with its reason (c2), a1 chatting with c3."""
        await history_for_board(database_url)
        assert (await gateway.call("GET", "/board", "a1"))[0] == 403
        status, board = await gateway.call("GET", "/board", "boss")
        assert status == 200
        assert [w["conversation_id"] for w in board["waiting"]] == ["c1"]  # type: ignore[index,union-attr]
        assert [(p["conversation_id"], p["parked_reason"]) for p in board["parked"]] == [  # type: ignore[index,union-attr]
            ("c2", "no pool: none matches")]
        waiting = {p["pool"]: p for p in board["pools"]}  # type: ignore[index,union-attr]
        assert sum(p["waiting"] for p in waiting.values()) == 1
        oldest = max(p["oldest_wait_s"] or 0 for p in waiting.values())
        assert 500 < oldest < 700  # ten minutes, measured by the database clock
        a1 = next(a for a in board["agents"] if a["agent_id"] == "a1")  # type: ignore[index,union-attr]
        assert (a1["status"], a1["conversations"], a1["occupancy"]) == (
            "chatting", ["c3"], round(1 / 3, 2))
        # and whom with, as the waiting rows say (user run 42's board showed only c3's id)
        assert a1["held"] == [{"conversation_id": "c3", "customer_id": "k3",  # type: ignore[index]
                               "customer_name": "Ada Lovelace", "channel": "sms"}]
        assert board["agent_counts"]["chatting"] == 1  # type: ignore[index]

        # Re-routed and offered: c2 is waiting in the offer's pool, no longer parked.
        offer = assignment("a1", "c2", AssignmentKind.OFFERED, at=utcnow())
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("assignments", offer.model_copy(update={"pool": "vip"}))])
        finally:
            await conn.close()
        _, board = await gateway.call("GET", "/board", "boss")
        assert board["parked"] == []  # type: ignore[index]
        assert {p["pool"]: p["waiting"] for p in board["pools"]}["vip"] == 1  # type: ignore[index,union-attr]
        # Offered is told apart from queued: the pool's count and who holds the offer.
        assert {p["pool"]: p["offered"] for p in board["pools"]}["vip"] == 1  # type: ignore[index,union-attr]
        assert sum(p["offered"] for p in board["pools"]) == 1  # type: ignore[index,union-attr]
        assert {w["conversation_id"]: w["offered_to"] for w in board["waiting"]} == {  # type: ignore[index,union-attr]
            "c1": None, "c2": "a1"}

        # a1 declines: c2 is queued again, still waiting in vip.
        decline = AgentEvent(event_id="decline-c2", agent_id="a1", kind=AgentEventKind.DECLINE,
                             offer_id=offer.offer_id, conversation_id="c2", occurred_at=utcnow())
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("agent-events", decline)])
        finally:
            await conn.close()
        _, board = await gateway.call("GET", "/board", "boss")
        vip = {p["pool"]: p for p in board["pools"]}["vip"]  # type: ignore[index,union-attr]
        assert (vip["waiting"], vip["offered"]) == (1, 0)
        assert {w["conversation_id"]: w["offered_to"] for w in board["waiting"]} == {  # type: ignore[index,union-attr]
            "c1": None, "c2": None}

        # c1 overflows: the router's rerouted event moves it to its new pool on the board
        # (a user run's board kept work that had overflowed in the pool it had left).
        moved = ConversationEvent(event_id="reroute-c1", conversation_id="c1", customer_id="k1",
                                  kind=ConversationEventKind.REROUTED, pool="overflow",
                                  reason="overflow timeout", occurred_at=utcnow())
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("conversations", moved)])
        finally:
            await conn.close()
        _, board = await gateway.call("GET", "/board", "boss")
        assert {w["conversation_id"]: w["pool"] for w in board["waiting"]}["c1"] == "overflow"  # type: ignore[index,union-attr]

    async def test_a_reopened_conversation_waits_from_its_reopening(
            self, gateway: Setup, database_url: str) -> None:
        """User run 37: a question after the survey reopened a conversation first opened
        earlier, and the board counted its wait from the first message the customer ever
        wrote in it (its pool's oldest wait 8 minutes instead of 4); a parked one re-routed
        took the same age to the router."""
        now = utcnow()
        first = inbound(1, text="first", at=now - timedelta(hours=2), sender="+14155550109")
        again = inbound(2, text="again", at=now - timedelta(minutes=5),  # (+2 min: 3 min ago)
                        sender="+14155550109")
        news = [ConversationEvent(event_id=f"{kind}-c9", conversation_id="c9", customer_id="k9",
                                  kind=kind, occurred_at=at) for kind, at in (
            (ConversationEventKind.RESOLVED, now - timedelta(hours=1)),
            (ConversationEventKind.REOPENED, again.occurred_at))]
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [  # type: ignore[arg-type]
                ("conversations", opened("c9", "k9", at=first.occurred_at)), ("inbound", first),
                ("conversations", added(first, conversation="c9", customer="k9")),
                *(("conversations", event) for event in news), ("inbound", again),
                ("conversations", added(again, conversation="c9", customer="k9"))])
        finally:
            await conn.close()
        _, board = await gateway.call("GET", "/board", "boss")
        assert [w["conversation_id"] for w in board["waiting"]] == ["c9"]  # type: ignore[index,union-attr]
        oldest = max(p["oldest_wait_s"] or 0 for p in board["pools"])  # type: ignore[union-attr]
        assert 150 < oldest < 300, oldest  # three minutes, not two hours
        parked = ConversationEvent(event_id="park-c9", conversation_id="c9", customer_id="k9",
                                   kind=ConversationEventKind.PARKED, reason="no pool",
                                   occurred_at=utcnow())
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("conversations", parked)])
        finally:
            await conn.close()
        assert (await gateway.call("POST", "/conversations/c9/reroute", "boss",
                                   {"pool": "default"}))[0] == 202
        (record,) = await consume(gateway.settings.kafka_bootstrap,
                                  gateway.settings.topic(ROUTING), 1)
        request = RoutingRequest.from_json_bytes(record.value)
        assert request.waiting_since is not None
        assert abs((request.waiting_since - again.occurred_at).total_seconds()) < 1

    async def test_queued_work_shows_the_priority_its_router_gives_it(
            self, gateway: Setup, database_url: str) -> None:
        """User run 20's board read "P0: 2" for billing work triage had raised: history
        learns a priority from offers, and queued work has none. The real router publishes
        the priority of the work it holds; the board takes it while the figures are fresh."""
        settings = gateway.settings
        await gateway.call("PUT", "/admin/pools/support", "root", {})
        status, body = await gateway.call("PUT", "/admin/routing", "root",
                                          {"default_pool": "support"})
        assert status == 200, body
        message = inbound(9, text="refund please", at=utcnow())
        triaged = ConversationEvent(event_id="triaged-c9", conversation_id="c9",
                                    customer_id="k9", kind=ConversationEventKind.TRIAGED,
                                    pool="support", occurred_at=utcnow())
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [
                ("conversations", opened("c9", "k9", at=message.occurred_at)),
                ("inbound", message), ("conversations", added(message, conversation="c9",
                                                              customer="k9")),
                ("conversations", triaged)])
        finally:
            await conn.close()

        async def shown() -> tuple[int, dict[str, int]]:
            _, board = await gateway.call("GET", "/board", "boss")
            row = {w["conversation_id"]: w for w in board["waiting"]}["c9"]  # type: ignore[index,union-attr]
            pools = {p["pool"]: p for p in board["pools"]}  # type: ignore[index,union-attr]
            return row["priority"], pools["support"]["by_priority"]

        assert await shown() == (0, {"0": 1})  # nothing but history: never offered
        stop = asyncio.Event()
        publishing = asyncio.create_task(publish_stats(settings, stop, every_s=0.5))
        try:
            async with running(settings):  # support has no agent: c9 only queues
                await produce(settings.kafka_bootstrap, settings.topic(ROUTING), [
                    (b"c9", route(9).model_copy(update={
                        "conversation_id": "c9", "customer_id": "k9", "priority": 60,
                    }).to_json_bytes())])
                for _ in range(100):
                    if await shown() == (60, {"60": 1}):
                        break
                    await asyncio.sleep(0.3)
                assert await shown() == (60, {"60": 1})
        finally:
            stop.set()
            await publishing

    async def test_waiting_work_names_the_sla_targets_it_missed(
            self, gateway: Setup, database_url: str) -> None:
        """Automation's ``sla_breached`` events reach the board: the waiting row names the
        missed targets and its pool counts it. A user run's billing conversations missed
        their one-minute first reply while the board showed nothing of it."""
        await history_for_board(database_url)
        _, board = await gateway.call("GET", "/board", "boss")
        assert {w["conversation_id"]: w["sla_breached"] for w in board["waiting"]} == {  # type: ignore[index,union-attr]
            "c1": []}
        breaches = [ConversationEvent(
            event_id=f"sla-c1-{n}", conversation_id="c1", customer_id="k1",
            kind=ConversationEventKind.SLA_BREACHED, pool="default", occurred_at=utcnow(),
            reason=f"{kind} target 60s passed: 63s (policy billing-fast)")
            for n, kind in enumerate(("first_reply", "resolution", "first_reply"))]
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("conversations", b) for b in breaches])
        finally:
            await conn.close()
        _, board = await gateway.call("GET", "/board", "boss")
        assert {w["conversation_id"]: w["sla_breached"] for w in board["waiting"]} == {  # type: ignore[index,union-attr]
            "c1": ["first_reply", "resolution"]}
        c1 = next(w for w in board["waiting"] if w["conversation_id"] == "c1")  # type: ignore[index,union-attr]
        pools = {p["pool"]: p["sla_breached"] for p in board["pools"]}  # type: ignore[index,union-attr]
        assert pools[c1["pool"]] == 1 and sum(pools.values()) == 1

    async def test_an_offer_that_timed_out_shows_the_agent_away_until_they_choose_again(
            self, gateway: Setup, database_url: str) -> None:
        """The router sets an agent away when an offer to them times out (pools with
        ``away_on_offer_timeout``, the default) and publishes no AgentEvent for it. A user
        run's console went on showing "available" while no offer came; choosing it again
        changed nothing. /me and the board now say away until the agent chooses again."""
        await history_for_board(database_url)  # a1 available, just now
        assert (await gateway.call("GET", "/me", "a1"))[1]["presence"] == "available"
        later = utcnow() + timedelta(seconds=30)
        elsewhere = assignment("a1", "c1", AssignmentKind.RESCINDED, at=later, n=1).model_copy(
            update={"pool": "vip", "reason": "offer timed out"})  # vip is in no live config
        declined = assignment("a1", "c1", AssignmentKind.RESCINDED, at=later, n=2).model_copy(
            update={"pool": "default", "reason": "declined: busy"})
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("assignments", elsewhere), ("assignments", declined)])
            assert (await gateway.call("GET", "/me", "a1"))[1]["presence"] == "available"
            timed_out = assignment("a1", "c1", AssignmentKind.RESCINDED, at=later, n=3
                                   ).model_copy(update={"pool": "default",
                                                        "reason": "offer timed out"})
            await write_batch(conn, [("assignments", timed_out)])
            assert (await gateway.call("GET", "/me", "a1"))[1]["presence"] == "away"
            _, board = await gateway.call("GET", "/board", "boss")
            a1 = next(a for a in board["agents"] if a["agent_id"] == "a1")  # type: ignore[index,union-attr]
            assert (a1["presence"], a1["status"]) == ("away", "away")
            back = AgentEvent(event_id="p-a1-back", agent_id="a1", kind=AgentEventKind.PRESENCE,
                              presence=Presence.AVAILABLE,
                              occurred_at=timed_out.occurred_at + timedelta(seconds=5))
            await write_batch(conn, [("agent-events", back)])
        finally:
            await conn.close()
        assert (await gateway.call("GET", "/me", "a1"))[1]["presence"] == "available"

    async def test_reroute_publishes_a_routing_request_keeping_the_age(
            self, gateway: Setup, database_url: str) -> None:
        """c2 (parked) is routed again to a named pool; c3 (assigned) is 409."""
        await history_for_board(database_url)
        status, _ = await gateway.call("POST", "/conversations/c2/reroute", "boss",
                                       {"pool": "default", "priority": 5})
        assert status == 202
        assert (await gateway.call("POST", "/conversations/c3/reroute", "boss", {}))[0] == 409
        assert (await gateway.call("POST", "/conversations/c2/reroute", "a1", {}))[0] == 403
        records = await consume(gateway.settings.kafka_bootstrap,
                                gateway.settings.topic(ROUTING), 1)
        request = RoutingRequest.from_json_bytes(records[0].value)
        assert (request.conversation_id, request.customer_id, request.pool, request.priority,
                request.kind, request.reason) == ("c2", "k2", "default", 5, "route",
                                                  "re-routed by boss")
        assert request.waiting_since is not None and records[0].key == b"c2"
        assert (utcnow() - request.waiting_since) > timedelta(minutes=7)  # m2: 8 min ago

        # once a configuration is live, a named pool takes it in one hop: its own stream
        assert (await gateway.call("PUT", "/admin/pools/vip", "root", {}))[0] == 200
        status, body = await gateway.call("POST", "/conversations/c2/reroute", "boss",
                                          {"pool": "nowhere"})
        assert status == 409 and "vip" in str(body), body
        status, body = await gateway.call("POST", "/conversations/c2/reroute", "boss",
                                          {"pool": "vip", "priority": 7})
        assert (status, body["pool"]) == (202, "vip"), body
        [record] = await consume(gateway.settings.kafka_bootstrap,
                                 gateway.settings.topic(POOL_TOPIC), 1,
                                 where=lambda r: r.key == b"vip" and b'"request"' in r.value)
        direct = request_of(POOL_TOPIC, record.value)
        assert direct is not None and (direct.conversation_id, direct.pool, direct.priority,
                                       direct.waiting_since) == (
            "c2", "vip", 7, request.waiting_since)
        assert len(await consume_all(gateway.settings.kafka_bootstrap,
                                     gateway.settings.topic(ROUTING))) == 1
        assert [r["subject"] for r in await audit_rows(database_url, "conversation.reroute")] \
            == ["c2", "c2"]  # the refused one changed nothing


class TestDeadLetters:
    async def test_replay_sends_the_original_bytes_once(
            self, gateway: Setup, database_url: str) -> None:
        """Listed, shown decoded, replayed to its topic with the same key and bytes and a
        replay header; a second replay is 409; the replay is audited."""
        topic = gateway.settings.topic(ROUTING)
        original = RoutingRequest(event_id="rr-1", kind="route", conversation_id="c9",
                                  customer_id="k9", channel="sms").to_json_bytes()
        letter = DeadLetter.for_record(processor="router", topic=topic, partition=1, offset=7,
                                       key=b"c9", value=original, error="no pool: none")
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("dlq", letter)])
        finally:
            await conn.close()
        status, listing = await gateway.call("GET", "/dead-letters?processor=router", "boss")
        assert status == 200 and [d["event_id"] for d in listing["dead_letters"]] == [  # type: ignore[index,union-attr]
            letter.event_id]
        status, shown = await gateway.call("GET", f"/dead-letters/{letter.event_id}", "boss")
        assert shown["original"]["conversation_id"] == "c9" and shown["source_key"] == "c9"  # type: ignore[index]
        status, done = await gateway.call("POST", f"/dead-letters/{letter.event_id}/replay",
                                          "boss", {})
        assert status == 202 and done["topic"] == topic
        status, again = await gateway.call("POST", f"/dead-letters/{letter.event_id}/replay",
                                           "root", {})
        assert status == 409 and "already replayed" in again["error"]["message"]  # type: ignore[index]
        records = await consume_all(gateway.settings.kafka_bootstrap, topic)
        assert [(r.key, r.value) for r in records] == [(b"c9", original)]
        assert records[0].headers == (("omniroute-replay-of", letter.event_id.encode()),)
        rows = await audit_rows(database_url, "dead_letter.replayed")
        assert [(r["actor"], r["subject"]) for r in rows] == [
            ("supervisor:boss", letter.event_id)]
        _, listing = await gateway.call("GET", "/dead-letters?replayed=false", "boss")
        assert listing["dead_letters"] == []  # type: ignore[index]
