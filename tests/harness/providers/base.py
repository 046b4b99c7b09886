"""What every fake provider API server shares: a port, a request log, queued failures.

A fake speaks one provider's documented request and response shapes; it
validates requests the way the provider does (answering the provider's own
error body) so a malformed request fails the test instead of passing silently.
``fail_next`` queues :class:`Failure` answers (status, provider error code,
optional ``Retry-After``) returned before any real handling; ``accept_then_fail``
makes the next N requests take effect *and* answer 500 (the "was it sent?" case).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from harness.ports import free_port


@dataclass(frozen=True)
class Failure:
    """A queued error answer."""

    status: int
    code: int | str
    retry_after: float | None = None


@dataclass
class Seen:
    """One request as the fake received it."""

    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    form: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def form_values(self, key: str) -> list[str]:
        return [v for k, v in self.form if k == key]


class FakeProvider:
    """Base of the fakes: subclasses add routes and format errors their provider's way."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.fail_next: list[Failure] = []
        self.accept_then_fail = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def error(self, status: int, code: int | str, message: str) -> web.Response:
        """The provider's error body."""
        raise NotImplementedError

    async def record(self, request: web.Request) -> Seen:
        body = await request.read()
        seen = Seen(time.monotonic(), request.method, request.path, dict(request.headers), body)
        ctype = request.content_type
        if ctype == "application/json" and body:
            try:
                seen.json = await request.json()
            except ValueError:
                seen.json = None
        elif ctype == "application/x-www-form-urlencoded":
            seen.form = parse_qsl(body.decode(), keep_blank_values=True)
        self.requests.append(seen)
        return seen

    def queued_failure(self) -> web.Response | None:
        """The next queued failure, formatted by the provider (None when none is queued)."""
        if not self.fail_next:
            return None
        failure = self.fail_next.pop(0)
        response = self.error(failure.status, failure.code, f"fake failure {failure.code}")
        if failure.retry_after is not None:
            response.headers["Retry-After"] = str(failure.retry_after)
        return response

    async def start(self) -> None:
        app = web.Application()
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeProvider:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
