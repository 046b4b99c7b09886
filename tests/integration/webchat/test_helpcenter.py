"""The widget's help search on the ingress, over the real PostgreSQL: results, views, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from omniroute.contract import SelfServiceEvent, SelfServiceEventKind
from omniroute.ingress.app import build_app
from omniroute.knowledge.files import import_directory
from omniroute.settings import Settings
from omniroute_connectors.base import Published, PublishUnavailable
from omniroute_connectors.webchat import WebChatConnector

SAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "knowledge"


class FakePublisher:
    """Records published events; fails while ``down``."""

    def __init__(self) -> None:
        self.events: list[Published] = []
        self.down = False

    async def publish(self, events: Sequence[Published]) -> None:
        if self.down:
            raise PublishUnavailable("broker down")
        self.events.extend(events)


@pytest.fixture
async def helpcenter(database_url: str) -> AsyncIterator[tuple[TestClient, FakePublisher]]:
    conn = await asyncpg.connect(database_url)
    try:
        await import_directory(conn, "default", SAMPLE)
    finally:
        await conn.close()
    connector = WebChatConnector(Settings(database_url=database_url))
    assert connector.chat.transcripts is not None
    await connector.chat.transcripts.start()
    publisher = FakePublisher()
    client = TestClient(TestServer(build_app(connector.settings, [connector], publisher)))
    await client.start_server()
    try:
        yield client, publisher
    finally:
        await client.close()
        await connector.chat.transcripts.stop()


class TestHelpCenter:
    async def test_search_then_view_records_both_steps(
            self, helpcenter: tuple[TestClient, FakePublisher]) -> None:
        """A Korean search finds the article; opening it returns Markdown and records a view."""
        client, publisher = helpcenter
        found = await client.get("/webchat/kb/search", params={
            "q": "택배 조회 어떻게 해요", "lang": "ko", "visitor": "v1"})
        assert found.status == 200 and found.headers["Access-Control-Allow-Origin"] == "*"
        body = await found.json()
        assert body["articles"][0]["article_id"] == "track-package" and body["recorded"]
        article = await client.get("/webchat/kb/articles/track-package",
                                   params={"lang": "ko", "visitor": "v1"})
        shown = await article.json()
        assert shown["title"] == "배송 조회하는 방법" and shown["languages"] == ["en", "ko"]
        tried, viewed = publisher.events
        assert isinstance(tried, SelfServiceEvent) and isinstance(viewed, SelfServiceEvent)
        assert (tried.kind, tried.query, tried.results) == (
            SelfServiceEventKind.SELF_SERVE_TRIED, "택배 조회 어떻게 해요", len(body["articles"]))
        assert (viewed.kind, viewed.article_id, viewed.language, viewed.visitor_id) == (
            SelfServiceEventKind.ARTICLE_VIEWED, "track-package", "ko", "v1")

    async def test_bad_requests_get_precise_errors_and_record_nothing(
            self, helpcenter: tuple[TestClient, FakePublisher]) -> None:
        """No query, a bad visitor id, an unknown article, a bad event kind: 4xx, nothing out."""
        client, publisher = helpcenter
        for path, params, status, code in (
                ("/webchat/kb/search", {"visitor": "v1"}, 400, "missing_query"),
                ("/webchat/kb/search", {"q": "x", "visitor": "a b"}, 400, "invalid_visitor"),
                ("/webchat/kb/search", {"q": "x", "visitor": "v", "lang": "K!"}, 400,
                 "invalid_language"),
                ("/webchat/kb/articles/nope", {"visitor": "v1"}, 404, "not_found")):
            response = await client.get(path, params=params)
            assert response.status == status, path
            assert (await response.json())["error"]["code"] == code
        response = await client.post("/webchat/kb/events",
                                     json={"kind": "article_viewed", "visitor": "v1"})
        assert response.status == 400
        assert publisher.events == []

    async def test_content_is_served_while_kafka_is_down(
            self, helpcenter: tuple[TestClient, FakePublisher]) -> None:
        """Articles still show with recorded=false; a proactive event asks for a retry (503)."""
        client, publisher = helpcenter
        publisher.down = True
        article = await client.get("/webchat/kb/articles/refund-policy",
                                   params={"lang": "en", "visitor": "v1"})
        assert article.status == 200 and (await article.json())["recorded"] is False
        prompt = await client.post("/webchat/kb/events", json={
            "kind": "proactive_sent", "visitor": "v1", "campaign": "widget"})
        assert prompt.status == 503
        publisher.down = False
        prompt = await client.post("/webchat/kb/events", json={
            "kind": "proactive_opened", "visitor": "v1", "campaign": "widget"})
        assert prompt.status == 202
        assert [e.kind for e in publisher.events] == [SelfServiceEventKind.PROACTIVE_OPENED]
