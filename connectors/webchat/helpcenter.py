"""The widget's help search: knowledge-base search and articles before (or instead of) a chat.

Served on the ingress beside the web chat socket (same origin as the widget):

- ``GET /webchat/kb/search?q=&lang=&visitor=``: published articles, best first;
  records ``self_serve_tried`` (query and result count);
- ``GET /webchat/kb/articles/{article_id}?lang=&visitor=``: one published
  article; records ``article_viewed``;
- ``POST /webchat/kb/events`` ``{"kind": "proactive_sent"|"proactive_opened",
  "visitor": ..., "campaign": ...}``: the widget's proactive prompt.

Every step is a SelfServiceEvent on ``omniroute.selfservice.v1`` (the sink
stores it). Content is served even when Kafka is down (a help centre that
fails with the broker helps nobody); the answer then says ``"recorded": false``.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from aiohttp import web

from omniroute.contract import SelfServiceEvent, SelfServiceEventKind
from omniroute.errors import InfrastructureError
from omniroute.knowledge import store
from omniroute.observability.logs import get_logger
from omniroute.observability.pipeline import REJECTIONS
from omniroute_connectors.base import Publisher, RawRoute
from omniroute_connectors.webchat.chat import WebChat

log = get_logger(__name__)
_VISITOR = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]+)?$")
CORS = {"Access-Control-Allow-Origin": "*"}
PROACTIVE = {SelfServiceEventKind.PROACTIVE_SENT, SelfServiceEventKind.PROACTIVE_OPENED}


def _refuse(code: str, message: str, status: int = 400) -> web.Response:
    REJECTIONS.labels("webchat", code).inc()
    return web.json_response({"error": {"code": code, "message": message}}, status=status,
                             headers=CORS)


class HelpCenter:
    """The handlers, over the web chat's database pool and the host's publisher."""

    def __init__(self, chat: WebChat, publisher: Publisher) -> None:
        self.chat = chat
        self.publisher = publisher

    def routes(self) -> tuple[RawRoute, ...]:
        """The routes the web chat connector serves for the widget's help search."""
        return (RawRoute("/kb/search", "GET", self.search),
                RawRoute("/kb/articles/{article_id}", "GET", self.article),
                RawRoute("/kb/events", "POST", self.event))

    async def _record(self, **fields: Any) -> bool:
        event = SelfServiceEvent(event_id=f"kb:{uuid.uuid4().hex}",
                                 workspace=self.chat.settings.workspace, **fields)
        try:
            await self.publisher.publish([event])
        except (InfrastructureError, OSError) as exc:
            log.warning("selfservice_unrecorded", kind=event.kind.value, error=str(exc))
            return False
        return True

    def _params(self, request: web.Request) -> tuple[str, str | None] | web.Response:
        visitor = request.query.get("visitor", "")
        language = request.query.get("lang") or None
        if not _VISITOR.match(visitor):
            return _refuse("invalid_visitor", "visitor must be 1-100 of A-Z a-z 0-9 _ . : -")
        if language is not None and not _LANGUAGE.match(language):
            return _refuse("invalid_language", "lang must be a language code such as ko or en")
        return visitor, language

    async def search(self, request: web.Request) -> web.Response:
        """Search published articles and record the attempt."""
        params = self._params(request)
        if isinstance(params, web.Response):
            return params
        visitor, language = params
        query = request.query.get("q", "").strip()[:500]
        if not query:
            return _refuse("missing_query", "q (what to search for) is required")
        pool = self.chat.transcripts.pool if self.chat.transcripts else None
        if pool is None:
            return _refuse("unavailable", "the knowledge base is not available", 503)
        hits = await store.search(pool, self.chat.settings.workspace, query, language, 5)
        recorded = await self._record(kind=SelfServiceEventKind.SELF_SERVE_TRIED,
                                      visitor_id=visitor, language=language, query=query,
                                      results=len(hits))
        return web.json_response({"articles": [h.as_json() for h in hits],
                                  "recorded": recorded}, headers=CORS)

    async def article(self, request: web.Request) -> web.Response:
        """One published article (in ``lang`` when it has that variant); records the view."""
        params = self._params(request)
        if isinstance(params, web.Response):
            return params
        visitor, language = params
        pool = self.chat.transcripts.pool if self.chat.transcripts else None
        if pool is None:
            return _refuse("unavailable", "the knowledge base is not available", 503)
        article_id = request.match_info["article_id"]
        found = await store.article(pool, self.chat.settings.workspace, article_id, language,
                                    published_only=True)
        if found is None:
            return _refuse("not_found", f"no published article {article_id!r}", 404)
        recorded = await self._record(kind=SelfServiceEventKind.ARTICLE_VIEWED,
                                      visitor_id=visitor, article_id=article_id,
                                      language=found["language"])
        shown = {k: found[k] for k in ("article_id", "language", "languages", "category",
                                       "title", "body", "version", "updated_at")}
        return web.json_response({**shown, "recorded": recorded}, headers=CORS)

    async def event(self, request: web.Request) -> web.Response:
        """A proactive prompt shown to (or opened by) the visitor."""
        try:
            body = json.loads(await request.read() or b"{}")
            kind = SelfServiceEventKind(body.get("kind"))
        except (ValueError, AttributeError):
            return _refuse("invalid_event", "body must be JSON with kind proactive_sent or "
                                            "proactive_opened")
        visitor, campaign = body.get("visitor"), body.get("campaign")
        if kind not in PROACTIVE:
            return _refuse("invalid_event", "kind must be proactive_sent or proactive_opened "
                                            "(searches and views are recorded by their routes)")
        if not isinstance(visitor, str) or not _VISITOR.match(visitor):
            return _refuse("invalid_visitor", "visitor must be 1-100 of A-Z a-z 0-9 _ . : -")
        if campaign is not None and (not isinstance(campaign, str) or len(campaign) > 100):
            return _refuse("invalid_event", "campaign must be a string of at most 100 characters")
        recorded = await self._record(kind=kind, visitor_id=visitor, campaign=campaign)
        if not recorded:
            return _refuse("unavailable", "not recorded, retry", 503)
        return web.json_response({"recorded": True}, status=202, headers=CORS)
