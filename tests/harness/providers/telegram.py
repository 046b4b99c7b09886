"""A fake Telegram Bot API: ``POST /bot<token>/<method>`` with a JSON body.

``sendMessage`` (``chat_id``, ``text`` 1-4096, optional ``reply_parameters``) and
``sendPhoto``/``sendVideo``/``sendAudio``/``sendDocument``/``sendSticker`` answer
``{"ok": true, "result": Message}``; errors ``{"ok": false, "error_code",
"description", "parameters": {"retry_after"}}`` (401 Unauthorized for a wrong token,
400 "Bad Request: chat not found", 403 "Forbidden: bot was blocked by the user",
429 "Too Many Requests: retry after N"). ``GET /bot<token>/getFile?file_id=`` of a file
customers sent (``add_file``) answers ``{"ok": true, "result": {"file_id",
"file_unique_id", "file_size", "file_path"}}`` (``400 Bad Request: invalid file_id``
for another), and ``GET /file/bot<token>/<file_path>`` serves its bytes (as Telegram
does, typed ``application/octet-stream`` except for photos' JPEG). Shapes:
core.telegram.org/bots/api (getFile, File).
"""

from __future__ import annotations

import hashlib
import itertools
import time

from aiohttp import web

from harness.providers.base import Failure, FakeProvider

MEDIA = {"sendPhoto": "photo", "sendVideo": "video", "sendAudio": "audio",
         "sendDocument": "document", "sendSticker": "sticker"}


class FakeTelegram(FakeProvider):
    """One bot."""

    def __init__(self, token: str, bot_id: int = 7000001) -> None:
        super().__init__()
        self.token = token
        self.bot_id = bot_id
        self.blocked: set[str] = set()
        self._ids = itertools.count(1)
        self.files: dict[str, tuple[str, bytes]] = {}
        """file_id → (file_path, bytes) of files customers sent."""

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/bot{token}/getFile", self.get_file)
        app.router.add_get("/file/bot{token}/{path:.+}", self.download)
        app.router.add_post("/bot{token}/{method}", self.call)

    def add_file(self, file_path: str, body: bytes) -> str:
        """Keep a customer's file under ``file_path`` (``photos/file_0.jpg``); its file_id."""
        file_id = "AgAC" + hashlib.sha256(body).hexdigest()[:40]
        self.files[file_id] = (file_path, body)
        return file_id

    async def get_file(self, request: web.Request) -> web.Response:
        await self.record(request)
        if request.match_info["token"] != self.token:
            return self.error(401, 401, "Unauthorized")
        if (failure := self.queued_failure()) is not None:
            return failure
        file_id = request.query.get("file_id", "")
        if file_id not in self.files:
            return self.error(400, 400, "Bad Request: invalid file_id")
        path, body = self.files[file_id]
        return web.json_response({"ok": True, "result": {
            "file_id": file_id, "file_unique_id": file_id[-16:], "file_size": len(body),
            "file_path": path}})

    async def download(self, request: web.Request) -> web.Response:
        await self.record(request)
        if request.match_info["token"] != self.token:
            return self.error(401, 401, "Unauthorized")
        found = [body for path, body in self.files.values()
                 if path == request.match_info["path"]]
        if not found:
            return self.error(404, 404, "Not Found")
        kind = "image/jpeg" if request.match_info["path"].endswith(".jpg") \
            else "application/octet-stream"
        return web.Response(body=found[0], headers={"Content-Type": kind})

    def error(self, status: int, code: int | str, message: str) -> web.Response:
        return web.json_response({"ok": False, "error_code": status, "description": message},
                                 status=status)

    def queued_failure(self) -> web.Response | None:
        if self.fail_next and self.fail_next[0].status == 429:
            failure: Failure = self.fail_next.pop(0)
            wait = int(failure.retry_after or 1)
            return web.json_response({"ok": False, "error_code": 429,
                                      "description": f"Too Many Requests: retry after {wait}",
                                      "parameters": {"retry_after": wait}}, status=429)
        return super().queued_failure()

    async def call(self, request: web.Request) -> web.Response:
        seen = await self.record(request)
        if request.match_info["token"] != self.token:
            return self.error(401, 401, "Unauthorized")
        if (failure := self.queued_failure()) is not None:
            return failure
        method, body = request.match_info["method"], seen.json
        if not isinstance(body, dict) or "chat_id" not in body:
            return self.error(400, 400, "Bad Request: chat_id is empty")
        chat = str(body["chat_id"])
        if chat in self.blocked:
            return self.error(403, 403, "Forbidden: bot was blocked by the user")
        result: dict[str, object] = {
            "message_id": next(self._ids), "date": int(time.time()),
            "from": {"id": self.bot_id, "is_bot": True, "first_name": "Fake"},
            "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else chat, "type": "private"}}
        if method == "sendMessage":
            text = body.get("text")
            if not isinstance(text, str) or not text.strip():
                return self.error(400, 400, "Bad Request: message text is empty")
            if len(text) > 4096:
                return self.error(400, 400, "Bad Request: message is too long")
            result["text"] = text
        elif method in MEDIA:
            if not body.get(MEDIA[method]):
                return self.error(400, 400, f"Bad Request: there is no {MEDIA[method]} in "
                                            "the request")
        else:
            return self.error(404, 404, "Not Found: method not found")
        return web.json_response({"ok": True, "result": result})
