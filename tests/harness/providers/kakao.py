"""A fake Kakao i Open Builder: the skill callback endpoint and the Event API.

A skill request with callbacks enabled carries ``userRequest.callbackUrl``, a
one-time URL valid for one minute (Kakao's "AI 챗봇 콜백 개발 가이드":
"callbackUrl valid time: 1min", usable once). :meth:`FakeKakao.issue` hands out
such URLs; a POST to one takes a SkillResponse (``{"version": "2.0", "template":
{"outputs": [1..3]}}``) and answers ``{"taskId", "status": "SUCCESS", "message",
"timestamp"}``. A reused or unknown URL answers 400 with ``status: "FAIL"``.
The callback answer body is written from memory of Kakao's guide (not found in
the reference corpus); omniroute's sender relies only on the HTTP status.

Event API (Kakao's chatbot guide, "Event API"): ``POST /v2/bots/{botId}/talk``
with ``Authorization: KakaoAK {REST API key}`` and ``{"event": {"name", "data"?},
"user": [1..100 {"type": "botUserKey" | "plusfriendUserKey" | "appUserId", "id"}]}``,
``data`` values strings. Answers the same ``{"taskId", "status", "message",
"timestamp"}``: ``SUCCESS`` when the event was taken (recorded in ``events``),
``FAIL`` for a wrong key (401), an unknown bot (404), an event no block bears or a
malformed body (400). A development channel's bot id ends in ``!``. The HTTP
statuses of the failures are this fake's guess; the body shape is documented.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web

from harness.providers.base import FakeProvider

USER_TYPES = frozenset({"botUserKey", "plusfriendUserKey", "appUserId"})
MAX_EVENT_USERS = 100


class FakeKakao(FakeProvider):
    """Issues and accepts one-time callback URLs; takes Event API requests for one bot."""

    def __init__(self, rest_api_key: str = "kakao-rest-key", bot_id: str = "bot1",
                 event_names: frozenset[str] = frozenset({"omniroute_reply"})) -> None:
        super().__init__()
        self.issued: set[str] = set()
        self.delivered: list[dict[str, object]] = []
        """Every SkillResponse a callback URL took."""
        self.rest_api_key = rest_api_key
        self.bot_id = bot_id
        self.event_names = event_names
        """The event names blocks bear in the chatbot admin center."""
        self.events: list[dict[str, Any]] = []
        """Every Event API request Kakao took: ``{"bot", "event", "user"}``."""

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/callback/{token}", self.callback)
        app.router.add_post("/v2/bots/{bot}/talk", self.talk)

    def issue(self) -> str:
        """A fresh one-time callback URL."""
        token = uuid.uuid4().hex
        self.issued.add(token)
        return f"{self.base_url}/v1/callback/{token}"

    def _answer(self, status: int, outcome: str, message: str) -> web.Response:
        return web.json_response({"taskId": str(uuid.uuid4()), "status": outcome,
                                  "message": message, "timestamp": int(time.time() * 1000)},
                                 status=status)

    def error(self, status: int, code: int | str, message: str) -> web.Response:
        """``code`` ``"FAIL"`` or ``"ERROR"`` chooses the status word (``Failure(200, "FAIL")``
        is a 200 answering FAIL); otherwise 5xx is ERROR and the rest FAIL."""
        outcome = code if code in ("FAIL", "ERROR") else "ERROR" if status >= 500 else "FAIL"
        return self._answer(status, str(outcome), message)

    async def callback(self, request: web.Request) -> web.Response:
        seen = await self.record(request)
        if (failure := self.queued_failure()) is not None:
            return failure
        token = request.match_info["token"]
        if token not in self.issued:
            return self.error(400, 400, "callback url is unknown or already used")
        body = seen.json
        outputs = (body.get("template") or {}).get("outputs") if isinstance(body, dict) else None
        if body.get("version") != "2.0" or not isinstance(outputs, list) or not (
                1 <= len(outputs) <= 3):
            return self.error(400, 400, "invalid SkillResponse")
        self.issued.discard(token)
        self.delivered.append(body)
        return self._answer(200, "SUCCESS", "")

    async def talk(self, request: web.Request) -> web.Response:
        seen = await self.record(request)
        if request.headers.get("Authorization") != f"KakaoAK {self.rest_api_key}":
            return self.error(401, 401, "invalid KakaoAK REST API key")
        if request.match_info["bot"] != self.bot_id:
            return self.error(404, 404, f"bot {request.match_info['bot']} not found")
        if (failure := self.queued_failure()) is not None:
            return failure
        if request.content_type != "application/json":
            return self.error(400, 400, "Content-Type must be application/json")
        if (problem := event_problem(seen.json, self.event_names)) is not None:
            return self.error(400, 400, problem)
        self.events.append({"bot": self.bot_id, "event": seen.json["event"],
                            "user": seen.json["user"]})
        if self.accept_then_fail:
            self.accept_then_fail -= 1
            return self.error(500, 500, "internal error")
        return self._answer(200, "SUCCESS", "")


def event_problem(body: Any, event_names: frozenset[str]) -> str | None:
    """What is wrong with an Event API body, or None."""
    if not isinstance(body, dict) or set(body) - {"event", "user"}:
        return "body must be {event, user}"
    event, users = body.get("event"), body.get("user")
    if not isinstance(event, dict) or set(event) - {"name", "data"}:
        return "event must be {name, data}"
    name = event.get("name")
    if not isinstance(name, str) or not name:
        return "event.name is required"
    if name not in event_names:
        return f"event {name} is not set on any block"
    data = event.get("data", {})
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        return "event.data values must be strings"
    if not isinstance(users, list) or not 1 <= len(users) <= MAX_EVENT_USERS:
        return f"user must list 1 to {MAX_EVENT_USERS} users"
    for user in users:
        if not isinstance(user, dict) or set(user) != {"type", "id"} \
                or user["type"] not in USER_TYPES or not isinstance(user["id"], str) \
                or not user["id"]:
            return f"each user is {{type: {' | '.join(sorted(USER_TYPES))}, id}}"
    return None
