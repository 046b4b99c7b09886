"""Roles, expiring and revocable tokens, and supervisors acting for agents, on the real
PostgreSQL and Kafka broker behind a running gateway."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import asyncpg
import pytest

from harness.kafka import consume, produce
from harness.ports import free_port
from integration.gateway.test_gateway import Setup
from integration.history.factories import T0, added, assignment, inbound, opened
from omniroute.contract import (
    AgentEvent,
    AgentEventKind,
    AssignmentEvent,
    AssignmentKind,
    Presence,
)
from omniroute.gateway.admin import create_token, list_tokens, revoke_token
from omniroute.gateway.auth import Role, hash_token, token_id
from omniroute.gateway.server import running_gateway
from omniroute.gateway.supervision import CONFIG_TTL_S
from omniroute.history.store import write_batch
from omniroute.routing.config import parse_config
from omniroute.routing.live import publish_config
from omniroute.settings import Settings


@pytest.fixture
async def gateway(topics: Settings, database_url: str) -> AsyncIterator[Setup]:
    """c1 assigned to a1; tokens for a1, a2, a supervisor, an admin and an expired one."""
    old = inbound(0, text="last month's order", at=T0 - timedelta(days=30))
    sms = inbound(1, text="parcel late")
    available = AgentEvent(event_id="p-a1", agent_id="a1", kind=AgentEventKind.PRESENCE,
                           presence=Presence.AVAILABLE)
    conn = await asyncpg.connect(database_url)
    try:
        await write_batch(conn, [
            ("conversations", opened("c0", "cust-1", at=T0 - timedelta(days=30))),
            ("inbound", old), ("conversations", added(old, conversation="c0",
                                                      customer="cust-1")),
            ("conversations", opened("c1", "cust-1")), ("inbound", sms),
            ("conversations", added(sms, conversation="c1", customer="cust-1")),
            ("assignments", assignment("a1", "c1")), ("agent-events", available)])
        tokens = {who: await create_token(conn, who, role) for who, role in
                  (("a1", Role.AGENT), ("a2", Role.AGENT), ("boss", Role.SUPERVISOR),
                   ("root", Role.ADMIN))}
        tokens["old"] = await create_token(conn, "old", Role.AGENT,
                                           expires_in=timedelta(seconds=1))
        await conn.execute("UPDATE agent_tokens SET expires_at = now() - interval '1 minute' "
                           "WHERE agent_id = 'old'")
    finally:
        await conn.close()
    async with running_gateway(topics, database_url, port=free_port()) as running, \
            aiohttp.ClientSession() as http:
        yield Setup(running.url, topics, tokens, http)


class TestTokens:
    async def test_an_expired_token_is_refused_with_when_it_expired(self, gateway: Setup) -> None:
        """401 names the expiry; a live token of the same kind works."""
        status, body = await gateway.call("GET", "/me", "old")
        assert status == 401 and "token expired at" in body["error"]["message"]  # type: ignore[index]
        assert (await gateway.call("GET", "/me", "a1")) == (200, {
            "agent_id": "a1", "role": "agent", "presence": "available", "away_reason": None,
            "routed": True})

    async def test_one_token_is_revoked_by_its_id_and_the_others_keep_working(
            self, gateway: Setup, database_url: str) -> None:
        """Revoking a1's second token leaves the first valid; the revocation is audited."""
        conn = await asyncpg.connect(database_url)
        try:
            second = await create_token(conn, "a1", Role.AGENT, label="phone")
            assert (await gateway.call("GET", "/me", "a1"))[0] == 200
            gateway.tokens["a1-phone"] = second
            assert await revoke_token(conn, token_id(hash_token(second)), by="tester") == "a1"
            listed = await list_tokens(conn, "a1")
            audit = await conn.fetch("SELECT actor, action FROM audit_log ORDER BY id")
        finally:
            await conn.close()
        status, body = await gateway.call("GET", "/me", "a1-phone")
        assert status == 401 and "token revoked at" in body["error"]["message"]  # type: ignore[index]
        assert (await gateway.call("GET", "/me", "a1"))[0] == 200
        assert sorted((t["label"] or "", t["state"]) for t in listed) == [
            ("", "active"), ("phone", "revoked")]
        assert ("tester", "token.revoked") in [(r["actor"], r["action"]) for r in audit]

    async def test_admin_issues_and_revokes_tokens_through_the_api(self, gateway: Setup) -> None:
        """POST /admin/tokens returns the token once; DELETE revokes it; agents get 403."""
        status, issued = await gateway.call("POST", "/admin/tokens", "root",
                                            {"agent_id": "ada", "role": "agent",
                                             "expires": "30d"})
        assert status == 201 and issued["agent_id"] == "ada"
        gateway.tokens["ada"] = str(issued["token"])
        assert (await gateway.call("GET", "/me", "ada"))[1] == {
            "agent_id": "ada", "role": "agent", "presence": "offline", "away_reason": None,
            "routed": True}
        status, listing = await gateway.call("GET", "/admin/tokens?agent_id=ada", "root")
        assert [t["expires_at"] is not None for t in listing["tokens"]] == [True]  # type: ignore[index,union-attr]
        assert (await gateway.call("POST", "/admin/tokens", "boss", {"agent_id": "x"}))[0] == 403
        assert (await gateway.call("POST", "/admin/tokens", "root",
                                   {"agent_id": "x", "expires": "soon"}))[0] == 400
        status, _ = await gateway.call("DELETE", f"/admin/tokens/{issued['token_id']}", "root")
        assert status == 200 and (await gateway.call("GET", "/me", "ada"))[0] == 401


class TestSupervisors:
    async def test_a_supervisor_forces_an_agents_status_and_it_is_audited(
            self, gateway: Setup, database_url: str) -> None:
        """boss sets a2 away: an AgentEvent presence for a2; an agent may not do it."""
        assert (await gateway.call("POST", "/agents/a2/presence", "a1",
                                   {"presence": "away"}))[0] == 403
        status, _ = await gateway.call("POST", "/agents/a2/presence", "boss",
                                       {"presence": "away"})
        assert status == 202
        records = await consume(gateway.settings.kafka_bootstrap,
                                gateway.settings.topic("omniroute.agent-events.v1"), 1)
        event = AgentEvent.from_json_bytes(records[0].value)
        assert (event.agent_id, event.kind, event.presence, event.reason) == (
            "a2", "presence", "away", "set by supervisor boss")
        assert records[0].key == b"a2"
        conn = await asyncpg.connect(database_url)
        try:
            row = await conn.fetchrow("SELECT actor, subject, detail FROM audit_log "
                                      "WHERE action = 'agent.presence'")
        finally:
            await conn.close()
        assert (row["actor"], row["subject"], json.loads(row["detail"])["presence"]) == (
            "supervisor:boss", "a2", "away")

    async def test_a_supervisor_transfers_and_resolves_as_the_holder(
            self, gateway: Setup) -> None:
        """The router takes transfers and resolves from the holder: events carry a1's id."""
        assert (await gateway.call("POST", "/conversations/c1/transfer", "a2",
                                   {"target_agent_id": "a2"}))[0] == 403
        assert (await gateway.call("POST", "/conversations/c1/transfer", "boss",
                                   {"target_agent_id": "a2", "reason": "a1 overloaded"}))[0] \
            == 202
        assert (await gateway.call("POST", "/conversations/c1/resolve", "root", {}))[0] == 202
        records = await consume(gateway.settings.kafka_bootstrap,
                                gateway.settings.topic("omniroute.agent-events.v1"), 2)
        events = [AgentEvent.from_json_bytes(r.value) for r in records]
        assert [(e.kind, e.agent_id, e.target_agent_id) for e in events] == [
            ("transfer", "a1", "a2"), ("resolve", "a1", None)]
        assert events[0].reason == "a1 overloaded"  # a reason given stands as given


    async def test_a_supervisor_reassigns_to_an_agent_of_another_pool(
            self, gateway: Setup) -> None:
        """A user run: the supervisor reassigned a support conversation to a billing agent
        from the board; the gateway answered 202, the router refused it (its pool knows only
        its own agents) and the board showed nothing. The transfer now goes through the
        target's pool, pinned to them; a transfer to the holder is a 400."""
        config = parse_config({
            "routing": {"default_pool": "support"},
            "pools": {"support": {}, "billing": {}},
            "agents": {"a1": {"pool": "support"}, "a2": {"pool": "billing"},
                       "a3": {"pool": "support"}}})
        await publish_config(gateway.settings, config, actor="test")
        status, body = await gateway.call("POST", "/conversations/c1/transfer", "boss",
                                          {"target_agent_id": "a1"})
        assert status == 400 and "already 'a1'" in body["error"]["message"]  # type: ignore[index]
        for target in ("a2", "a3"):
            assert (await gateway.call("POST", "/conversations/c1/transfer", "boss",
                                       {"target_agent_id": target}))[0] == 202
        records = await consume(gateway.settings.kafka_bootstrap,
                                gateway.settings.topic("omniroute.agent-events.v1"), 2)
        events = [AgentEvent.from_json_bytes(r.value) for r in records]
        assert [(e.agent_id, e.target_agent_id, e.target_pool) for e in events] == [
            ("a1", "a2", "billing"), ("a1", "a3", None)]
        # published as a1's, they say who did it: user run 46's activity read "Transferred
        # from bo → ada" as if bo had, with no word of the supervisor
        assert {e.reason for e in events} == {"transferred by boss"}


    async def test_me_says_whether_the_router_routes_to_the_caller(self, gateway: Setup) -> None:
        """A user run's supervisor, in no pool, had a console that heartbeated every 20 s and
        showed "The router refused: unknown agent" for good. ``/me`` says ``routed``: in a
        pool of the live configuration, or one that agents join; the console shows the
        presence menu and heartbeats only then."""
        assert (await gateway.call("GET", "/me", "boss"))[1]["routed"] is True  # type: ignore[index]
        await publish_config(gateway.settings, parse_config({
            "routing": {"default_pool": "support"}, "pools": {"support": {}},
            "agents": {"a1": {"pool": "support"}}}), actor="test")
        await asyncio.sleep(CONFIG_TTL_S + 0.5)  # the gateway's last read of it expires
        assert (await gateway.call("GET", "/me", "boss"))[1]["routed"] is False  # type: ignore[index]
        assert (await gateway.call("GET", "/me", "a1"))[1]["routed"] is True  # type: ignore[index]


class TestAgentConsoleData:
    async def test_the_holder_reads_the_customers_past_conversations_but_cannot_write(
            self, gateway: Setup) -> None:
        """a1 holds c1, so reads c0 of the same customer; a2 cannot; nobody replies to c0."""
        status, view = await gateway.call("GET", "/conversations/c1", "a1")
        assert status == 200 and [p["conversation_id"] for p in view["past_conversations"]] \
            == ["c0"]  # type: ignore[index,union-attr]
        status, past = await gateway.call("GET", "/conversations/c0", "a1")
        assert status == 200
        assert [m["text"] for m in past["messages"]] == ["last month's order"]  # type: ignore[index,union-attr]
        assert past["holder"] is None
        assert (await gateway.call("GET", "/conversations/c0", "a2"))[0] == 403
        assert (await gateway.call("POST", "/conversations/c0/replies", "a1",
                                   {"text": "x"}))[0] == 403

    async def test_me_and_the_socket_snapshot_carry_the_servers_presence(
            self, gateway: Setup) -> None:
        """The console shows what the server recorded, not a default of offline."""
        assert (await gateway.call("GET", "/me", "a1"))[1]["presence"] == "available"  # type: ignore[index]
        assert (await gateway.call("GET", "/me", "a2"))[1]["presence"] == "offline"  # type: ignore[index]
        ws_url = f"{gateway.url}/api/v1/stream?token={gateway.tokens['a1']}"
        async with gateway.http.ws_connect(ws_url) as ws:
            snapshot = await ws.receive_json(timeout=10)
        assert (snapshot["type"], snapshot["presence"]) == ("snapshot", "available")


    async def test_a_refusal_reaches_the_agents_socket_and_the_refusals_api(
            self, gateway: Setup, database_url: str) -> None:
        """The router's rejected answer is relayed live to a1 (not a2) and listed from history."""
        refusal = AssignmentEvent(event_id="rej:x", agent_id="a1", kind=AssignmentKind.REJECTED,
                                  offer_id="o-7", reason="offer o-7 expired")
        ws_url = f"{gateway.url}/api/v1/stream?token={gateway.tokens['a1']}"
        async with gateway.http.ws_connect(ws_url) as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
            await produce(gateway.settings.kafka_bootstrap,
                          gateway.settings.topic("omniroute.assignments.v1"),
                          [(b"a1", refusal.to_json_bytes())])
            live = await ws.receive_json(timeout=20)
        assert (live["event"]["kind"], live["event"]["reason"]) == ("rejected",
                                                                    "offer o-7 expired")
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("assignments", refusal)])
        finally:
            await conn.close()
        status, body = await gateway.call("GET", "/refusals", "a1")
        assert status == 200 and [(r["offer_id"], r["reason"]) for r in body["refusals"]] == [  # type: ignore[index,union-attr]
            ("o-7", "offer o-7 expired")]
        assert (await gateway.call("GET", "/refusals", "a2"))[1] == {"refusals": []}
