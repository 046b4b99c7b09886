"""The knowledge base on the real gateway and PostgreSQL: authoring, versions, suggestions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from harness.ports import free_port
from integration.gateway.test_gateway import Setup
from integration.history.factories import added, assignment, inbound, opened
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.gateway.server import running_gateway
from omniroute.history.store import write_batch
from omniroute.knowledge.files import import_directory
from omniroute.settings import Settings

SAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "knowledge"


@pytest.fixture
async def gateway(topics: Settings, database_url: str) -> AsyncIterator[Setup]:
    """A gateway over the sample knowledge base and conversation c1 (a refund question) of a1."""
    question = inbound(1, text="환불받고 싶어요. 주문번호 A-123456")
    conn = await asyncpg.connect(database_url)
    try:
        await import_directory(conn, "default", SAMPLE)
        await write_batch(conn, [
            ("conversations", opened("c1", "cust-1")), ("inbound", question),
            ("conversations", added(question, conversation="c1", customer="cust-1")),
            ("assignments", assignment("a1", "c1"))])
        tokens = {who: await create_token(conn, who, role) for who, role in
                  (("a1", Role.AGENT), ("a2", Role.AGENT), ("boss", Role.SUPERVISOR))}
    finally:
        await conn.close()
    async with running_gateway(topics, database_url, port=free_port()) as running, \
            aiohttp.ClientSession() as http:
        yield Setup(running.url, topics, tokens, http)


class TestKnowledgeApi:
    async def test_supervisors_author_versions_agents_only_read(self, gateway: Setup) -> None:
        """PUT makes version 2 (unchanged content: no new version); agents get 403 on writes."""
        path = "/kb/articles/refund-policy/en"
        status, current = await gateway.call("GET", path, "a1")
        assert status == 200 and current["version"] == 1 and current["languages"] == ["en", "ko"]
        edit = {"title": "Refunds", "body": "Within 30 days.", "keywords": ["refund"],
                "category": "refunds"}
        assert (await gateway.call("PUT", path, "a1", edit))[0] == 403
        status, saved = await gateway.call("PUT", path, "boss", edit)
        assert status == 200 and saved == {"article_id": "refund-policy", "language": "en",
                                           "version": 2, "changed": True}
        assert (await gateway.call("PUT", path, "boss", edit))[1]["version"] == 2
        status, history = await gateway.call("GET", f"{path}/versions", "a1")
        assert [(v["version"], v["created_by"]) for v in history["versions"]] == [
            (2, "boss"), (1, "kb import")]
        status, archived = await gateway.call("DELETE", path, "boss")
        assert status == 200 and archived["version"] == 3
        status, found = await gateway.call("GET", "/kb/search?q=refund&language=en", "a1")
        assert "refund-policy" not in [a["article_id"] for a in found["articles"]]

    async def test_bad_articles_are_refused_precisely(self, gateway: Setup) -> None:
        """A bad language in the path or a missing title is a 400 naming the field."""
        status, error = await gateway.call("PUT", "/kb/articles/x/EN!", "boss", {"title": "t"})
        assert status == 400 and "language" in error["error"]["message"]
        status, error = await gateway.call("PUT", "/kb/articles/x/en", "boss", {"body": "b"})
        assert status == 400 and "title" in error["error"]["message"]
        assert (await gateway.call("GET", "/kb/search", "a1"))[0] == 400

    async def test_what_postgresql_cannot_store_is_a_400_not_a_500(self, gateway: Setup) -> None:
        """NUL in any string of a body, and a category position past PostgreSQL's integer,
        are refused naming the field (the OpenAPI fuzz test met each as a 500); nothing is
        stored."""
        for path, body, field in (
                ("/kb/articles/x/en", {"title": "a\x00b"}, "title:"),
                ("/kb/articles/x/en", {"title": "t", "keywords": ["ok", "n\x00"]}, "keywords.1:"),
                ("/kb/categories/c", {"names": {"en": "a\x00b"}}, "names.en:"),
                ("/kb/categories/c", {"names": {"e\x00": "x"}}, "names.e\x00:"),
                ("/kb/categories/c", {"position": 2**40}, "position:")):
            status, error = await gateway.call("PUT", path, "boss", body)
            assert status == 400, (path, body, status)
            assert error["error"]["message"].startswith(field), error
        status, listing = await gateway.call("GET", "/kb/categories", "boss")
        assert status == 200 and "c" not in [c["category_id"] for c in listing["categories"]]
        assert (await gateway.call("GET", "/kb/articles/x/en", "boss"))[0] == 404

    async def test_suggestions_beside_the_holders_conversation(self, gateway: Setup) -> None:
        """The holder gets refund articles for the customer's words; another agent gets 403."""
        status, view = await gateway.call("GET", "/conversations/c1/suggestions", "a1")
        assert status == 200 and view["query"].startswith("환불받고")
        assert view["articles"][0]["language"] == "ko"
        assert "refund-policy" in [a["article_id"] for a in view["articles"]]
        assert (await gateway.call("GET", "/conversations/c1/suggestions", "a2"))[0] == 403
