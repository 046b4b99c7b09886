"""A fake Kakao i Open Builder callback endpoint.

A skill request with callbacks enabled carries ``userRequest.callbackUrl``, a
one-time URL valid for one minute (Kakao's "AI 챗봇 콜백 개발 가이드":
"callbackUrl valid time: 1min", usable once). :meth:`FakeKakao.issue` hands out
such URLs; a POST to one takes a SkillResponse (``{"version": "2.0", "template":
{"outputs": [1..3]}}``) and answers ``{"taskId", "status": "SUCCESS", "message",
"timestamp"}``. A reused or unknown URL answers 400 with ``status: "FAIL"``.
The callback answer body is written from memory of Kakao's guide (not found in
the reference corpus); omniroute's sender relies only on the HTTP status.
"""

from __future__ import annotations

import time
import uuid

from aiohttp import web

from harness.providers.base import FakeProvider


class FakeKakao(FakeProvider):
    """Issues and accepts one-time callback URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.issued: set[str] = set()
        self.delivered: list[dict[str, object]] = []

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/callback/{token}", self.callback)

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
        return self._answer(status, "ERROR" if status >= 500 else "FAIL", message)

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
