"""A fake Meta Graph API: WhatsApp Cloud ``/{version}/{phone-number-id}/messages``.

Answers ``{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}],
"messages": [{"id": "wamid..."}]}``; ``fail_next`` queues error answers
(``{"error": {"message", "type", "code", "fbtrace_id"}}`` with their HTTP status).
Every request is recorded with its time, path, headers and JSON body.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from harness.ports import free_port


@dataclass
class FakeGraph:
    """The fake server and what it saw."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[tuple[int, int]] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"at": time.monotonic(), "path": request.path,
                              "auth": request.headers.get("Authorization"), "json": body})
        if self.fail_next:
            status, code = self.fail_next.pop(0)
            return web.json_response({"error": {"message": f"fake error {code}",
                                                "type": "OAuthException", "code": code,
                                                "fbtrace_id": "Afake"}}, status=status)
        wamid = f"wamid.FAKE{next(self._ids)}"
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                                  "messages": [{"id": wamid}]})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{version}/{phone}/messages", self._messages)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


