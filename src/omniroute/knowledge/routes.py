"""The knowledge base on the agent gateway: admin, search and suggestions beside a conversation.

Registered by :func:`add_routes` from the gateway's ``build_app``; documented
in its OpenAPI document through :data:`OPERATIONS`. Authors (supervisors)
write articles and categories; every agent searches, and gets suggestions for
the conversation they hold, together with the triage (intent, slots) the
answer bot or triage recorded. Writes go straight to PostgreSQL (admin data,
versioned), like agent tokens and canned responses.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from omniroute.bot.replies import language_of
from omniroute.gateway.openapi import Operation
from omniroute.gateway.problems import BadRequest, Forbidden, NotFound
from omniroute.knowledge import store
from omniroute.knowledge.articles import ArticleDraft, ArticleStatus, Category

if TYPE_CHECKING:
    from omniroute.gateway.app import Gateway
    from omniroute.gateway.auth import Principal

API = "/api/v1/kb"
SUGGESTION_MIN_SCORE = 0.2
"""Weaker matches than this are noise beside a conversation (they share a common word)."""
ARTICLE = f"{API}/articles/{{article_id}}/{{language}}"


class ArticleBody(BaseModel):
    """An article variant as an author saves it (id and language come from the path)."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = None
    title: Annotated[str, Field(min_length=1, max_length=300)]
    body: Annotated[str, Field(max_length=100_000)] = ""
    keywords: list[Annotated[str, Field(min_length=1, max_length=100)]] = []
    status: ArticleStatus = ArticleStatus.PUBLISHED


class CategoryBody(BaseModel):
    """A category's names per language and its position."""

    model_config = ConfigDict(extra="forbid")

    names: dict[str, Annotated[str, Field(min_length=1, max_length=200)]] = {}
    position: Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] = 0  # PostgreSQL's integer


OPERATIONS = (
    Operation("get", f"{API}/articles", "Knowledge-base articles (current versions); "
              "`?language=`, `?status=`."),
    Operation("get", ARTICLE, "One article variant (current version) and its languages."),
    Operation("put", ARTICLE, "Save an article variant as its next version (supervisors); "
              "unchanged content keeps the version.", ArticleBody),
    Operation("delete", ARTICLE, "Archive an article variant: a new version with status "
              "archived (supervisors)."),
    Operation("get", f"{ARTICLE}/versions", "Every saved version of an article variant."),
    Operation("get", f"{API}/categories", "Categories with their names per language."),
    Operation("put", f"{API}/categories/{{category_id}}", "Create or replace a category "
              "(supervisors).", CategoryBody),
    Operation("get", f"{API}/search", "Search published articles: `?q=` (Korean and English), "
              "`?language=`, `?limit=`; results scored 0..1."),
    Operation("get", "/api/v1/conversations/{conversation_id}/suggestions",
              "Articles suggested for the conversation (from its latest customer messages; "
              "score at least 0.2) and its triage (intent, language, slots).",
              conversation=True),
)


class KnowledgeApi:
    """The handlers, over the gateway's authentication and database pool."""

    def __init__(self, gateway: Gateway) -> None:
        self.g = gateway

    @property
    def workspace(self) -> str:
        return self.g.settings.workspace

    async def author(self, request: web.Request) -> Principal:
        who = await self.g.who(request)
        if not who.supervisor:
            raise Forbidden("only supervisors edit the knowledge base")
        return who

    async def list_articles(self, request: web.Request) -> web.Response:
        await self.g.who(request)
        status = request.query.get("status")
        try:
            wanted = ArticleStatus(status) if status else None
        except ValueError as exc:
            raise BadRequest(f"status must be one of {[s.value for s in ArticleStatus]}") from exc
        found = await store.articles(self.g.pool, self.workspace, request.query.get("language"),
                                     wanted)
        return web.json_response({"articles": found})

    async def get_article(self, request: web.Request) -> web.Response:
        await self.g.who(request)
        aid, lang = request.match_info["article_id"], request.match_info["language"]
        found = await store.article(self.g.pool, self.workspace, aid, lang)
        if found is None or found["language"] != lang:
            raise NotFound(f"no article {aid!r} in {lang!r}")
        return web.json_response(found)

    async def put_article(self, request: web.Request) -> web.Response:
        who = await self.author(request)
        body = await self.g.body(request, ArticleBody)
        draft = _draft(body, request)
        version, changed = await store.save_article(self.g.pool, self.workspace, draft,
                                                    who.agent_id)
        return web.json_response({"article_id": draft.article_id, "language": draft.language,
                                  "version": version, "changed": changed})

    async def archive_article(self, request: web.Request) -> web.Response:
        who = await self.author(request)
        aid, lang = request.match_info["article_id"], request.match_info["language"]
        found = await store.article(self.g.pool, self.workspace, aid, lang)
        if found is None or found["language"] != lang:
            raise NotFound(f"no article {aid!r} in {lang!r}")
        draft = ArticleDraft(article_id=aid, language=lang, category=found["category"],
                             title=found["title"], body=found["body"],
                             keywords=found["keywords"], status=ArticleStatus.ARCHIVED)
        version, changed = await store.save_article(self.g.pool, self.workspace, draft,
                                                    who.agent_id)
        return web.json_response({"article_id": aid, "language": lang, "version": version,
                                  "changed": changed, "status": "archived"})

    async def versions(self, request: web.Request) -> web.Response:
        await self.g.who(request)
        found = await store.versions(self.g.pool, self.workspace, request.match_info["article_id"],
                                     request.match_info["language"])
        if not found:
            raise NotFound("no such article")
        return web.json_response({"versions": found})

    async def categories(self, request: web.Request) -> web.Response:
        await self.g.who(request)
        found = await store.categories(self.g.pool, self.workspace)
        return web.json_response({"categories": [c.model_dump() for c in found]})

    async def put_category(self, request: web.Request) -> web.Response:
        await self.author(request)
        body = await self.g.body(request, CategoryBody)
        try:
            category = Category(category_id=request.match_info["category_id"], **body.model_dump())
        except ValueError as exc:
            raise BadRequest(f"invalid category: {exc}") from exc
        await store.save_category(self.g.pool, self.workspace, category)
        return web.json_response(category.model_dump())

    async def search(self, request: web.Request) -> web.Response:
        await self.g.who(request)
        query = request.query.get("q", "").strip()
        if not query:
            raise BadRequest("q (the search text) is required")
        hits = await store.search(self.g.pool, self.workspace, query[:500],
                                  request.query.get("language"), _limit(request))
        return web.json_response({"query": query, "articles": [h.as_json() for h in hits]})

    async def suggestions(self, request: web.Request) -> web.Response:
        who = await self.g.who(request)
        ref = await self.g.conversation(request, who)
        row = await self.g.pool.fetchrow(
            "SELECT triage FROM conversations WHERE conversation_id = $1", ref.conversation_id)
        triage: dict[str, Any] = json.loads(row["triage"]) if row and row["triage"] else {}
        texts = [r["text"] for r in await self.g.pool.fetch(
            """SELECT text FROM messages WHERE conversation_id = $1 AND direction = 'inbound'
                 AND text IS NOT NULL ORDER BY created_at DESC LIMIT 3""", ref.conversation_id)]
        query = " ".join(reversed(texts))
        language = triage.get("language") or language_of(query)
        hits = await store.search(self.g.pool, ref.workspace, query, language, _limit(request)) \
            if query else []
        hits = [h for h in hits if h.score >= SUGGESTION_MIN_SCORE]
        return web.json_response({
            "conversation_id": ref.conversation_id, "triage": triage, "query": query,
            "articles": [h.as_json() for h in hits]})


def _draft(body: ArticleBody, request: web.Request) -> ArticleDraft:
    try:
        return ArticleDraft(article_id=request.match_info["article_id"],
                            language=request.match_info["language"], **body.model_dump())
    except ValueError as exc:
        raise BadRequest(f"invalid article: {exc}") from exc


def _limit(request: web.Request) -> int:
    try:
        return max(1, min(20, int(request.query.get("limit", "5"))))
    except ValueError as exc:
        raise BadRequest("limit must be a number") from exc


def add_routes(app: web.Application, gateway: Gateway) -> None:
    """Register the knowledge-base routes of :data:`OPERATIONS` on the gateway's app."""
    kb = KnowledgeApi(gateway)
    app.router.add_get(f"{API}/articles", kb.list_articles)
    app.router.add_get(ARTICLE, kb.get_article)
    app.router.add_put(ARTICLE, kb.put_article)
    app.router.add_delete(ARTICLE, kb.archive_article)
    app.router.add_get(f"{ARTICLE}/versions", kb.versions)
    app.router.add_get(f"{API}/categories", kb.categories)
    app.router.add_put(f"{API}/categories/{{category_id}}", kb.put_category)
    app.router.add_get(f"{API}/search", kb.search)
    app.router.add_get("/api/v1/conversations/{conversation_id}/suggestions", kb.suggestions)
