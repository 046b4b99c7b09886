"""A fake LINE Messaging API: push and reply.

``POST /v2/bot/message/push`` ``{"to", "messages": [1..5]}`` with ``Authorization:
Bearer`` and an optional ``X-Line-Retry-Key`` (a UUID): a key already accepted is
answered ``409 {"message": "The retry key is already accepted", "sentMessages"}``
with ``x-line-accepted-request-id`` and sends nothing again.
``POST /v2/bot/message/reply`` ``{"replyToken", "messages"}``: a token works once
(``400 {"message": "Invalid reply token"}`` after), and a retry key is refused (400).
Success ``200 {"sentMessages": [{"id", "quoteToken"}]}`` with ``x-line-request-id``;
errors ``{"message", "details": [{"message", "property"}]}``.
``GET /v2/bot/profile/{userId}`` (and ``/v2/bot/group/{groupId}/member/{userId}``,
``/v2/bot/room/{roomId}/member/{userId}``) answers a user of ``profiles``
``{"displayName", "userId", "pictureUrl"?, "statusMessage"?, "language"?}`` and
``404 {"message": "Not found"}`` for anyone else (a user who blocked the account).
``GET /v2/bot/message/{messageId}/content`` (the data API, api-data.line.me: tests
point ``OMNIROUTE_LINE_DATA_API_BASE_URL`` here too) serves the content a user sent
(``content``) with its type, ``401`` without the token, ``404 {"message": "Not found"}``
for another message.
Shapes: developers.line.biz/en/reference/messaging-api/ and
developers.line.biz/en/docs/messaging-api/retrying-api-request/.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from aiohttp import web

from harness.providers.base import FakeProvider, Seen


class FakeLine(FakeProvider):
    """One channel."""

    def __init__(self, access_token: str) -> None:
        super().__init__()
        self.access_token = access_token
        self.reply_tokens: set[str] = set()
        self.accepted_keys: dict[str, tuple[str, list[dict[str, str]]]] = {}
        self.delivered: list[dict[str, Any]] = []
        """Every message set actually delivered to a user (push or reply)."""
        self.profiles: dict[str, dict[str, Any]] = {}
        """User id → profile fields (``displayName``, ...) the profile API knows."""
        self._ids = itertools.count(1)
        self.content: dict[str, tuple[str, bytes]] = {}
        """Message id → (content type, bytes) of images, videos, audio and files users sent."""

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v2/bot/message/{message}/content", self.message_content)
        app.router.add_post("/v2/bot/message/push", self.push)
        app.router.add_post("/v2/bot/message/reply", self.reply)
        app.router.add_get("/v2/bot/profile/{user}", self.profile)
        app.router.add_get("/v2/bot/{kind:group|room}/{scope}/member/{user}", self.profile)

    async def profile(self, request: web.Request) -> web.Response:
        await self.record(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        if (failure := self.queued_failure()) is not None:
            return failure
        user = request.match_info["user"]
        if user not in self.profiles:
            return self.error(404, 404, "Not found")
        return web.json_response({"userId": user, **self.profiles[user]},
                                 headers={"x-line-request-id": str(uuid.uuid4())})

    async def message_content(self, request: web.Request) -> web.Response:
        await self.record(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        if (failure := self.queued_failure()) is not None:
            return failure
        if request.match_info["message"] not in self.content:
            return self.error(404, 404, "Not found")
        content_type, body = self.content[request.match_info["message"]]
        return web.Response(body=body, headers={"Content-Type": content_type,
                                                "x-line-request-id": str(uuid.uuid4())})

    def error(self, status: int, code: int | str, message: str) -> web.Response:
        return web.json_response({"message": message}, status=status)

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        """LINE's 401 when the request lacks the channel access token, else None."""
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return self.error(401, 401, "Authentication failed. Confirm that the access token "
                                        "in the authorization header is valid.")
        return None

    def _check(self, request: web.Request, seen: Seen) -> web.Response | None:
        if (refused := self._unauthorized(request)) is not None:
            return refused
        messages = seen.json.get("messages") if isinstance(seen.json, dict) else None
        if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            return web.json_response({"message": "The request body has 1 error(s)", "details": [
                {"message": "Size must be between 1 and 5", "property": "messages"}]},
                status=400)
        return None

    def _sent(self, messages: list[Any]) -> tuple[str, list[dict[str, str]]]:
        request_id = str(uuid.uuid4())
        return request_id, [{"id": str(460000000000000 + next(self._ids)),
                             "quoteToken": f"q{uuid.uuid4().hex[:12]}"} for _ in messages]

    async def push(self, request: web.Request) -> web.Response:
        seen = await self.record(request)
        if (problem := self._check(request, seen)) is not None:
            return problem
        key = request.headers.get("X-Line-Retry-Key")
        if key is not None:
            try:
                uuid.UUID(key)
            except ValueError:
                return self.error(400, 400, "The value for the 'X-Line-Retry-Key' header is "
                                            "invalid")
            if key in self.accepted_keys:
                accepted, sent = self.accepted_keys[key]
                return web.json_response(
                    {"message": "The retry key is already accepted", "sentMessages": sent},
                    status=409, headers={"x-line-accepted-request-id": accepted})
        if (failure := self.queued_failure()) is not None:
            return failure
        request_id, sent = self._sent(seen.json["messages"])
        if key is not None:
            self.accepted_keys[key] = (request_id, sent)
        self.delivered.append({"to": seen.json.get("to"), "messages": seen.json["messages"]})
        if self.accept_then_fail:
            self.accept_then_fail -= 1
            return self.error(500, 500, "Internal server error")
        return web.json_response({"sentMessages": sent}, headers={"x-line-request-id":
                                                                  request_id})

    async def reply(self, request: web.Request) -> web.Response:
        seen = await self.record(request)
        if (problem := self._check(request, seen)) is not None:
            return problem
        if request.headers.get("X-Line-Retry-Key") is not None:
            return self.error(400, 400, "X-Line-Retry-Key is not supported by this API")
        if (failure := self.queued_failure()) is not None:
            return failure
        token = seen.json.get("replyToken")
        if token not in self.reply_tokens:
            return self.error(400, 400, "Invalid reply token")
        self.reply_tokens.discard(token)
        request_id, sent = self._sent(seen.json["messages"])
        self.delivered.append({"replyToken": token, "messages": seen.json["messages"]})
        return web.json_response({"sentMessages": sent}, headers={"x-line-request-id":
                                                                  request_id})
