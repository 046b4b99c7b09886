"""The console in headless Chromium against the real gateway, over history written as the
sink writes it (the tests of what the console shows for a given history)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from e2e.console.test_attachments import sign_in
from harness.browser import launch_chromium
from harness.ports import free_port
from integration.history.factories import added, opened
from omniroute.contract import AgentEvent, AgentEventKind, InboundMessage, Presence
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.gateway.server import RunningGateway, running_gateway
from omniroute.history.store import write_batch
from omniroute.settings import Settings

playwright_api = pytest.importorskip("playwright.async_api")


def available(agent: str, at: datetime) -> tuple[str, object]:
    """The agent available since ``at``, as the gateway publishes her presence."""
    return ("agent-events", AgentEvent(event_id=f"presence-{agent}", occurred_at=at,
                                       agent_id=agent, kind=AgentEventKind.PRESENCE,
                                       presence=Presence.AVAILABLE))


def opened_by(conversation: str, customer: str, message: InboundMessage,
              at: datetime) -> list[tuple[str, object]]:
    """A conversation opened ``at`` with the customer's ``message`` in it, as the worker and
    the sink write it."""
    return [("conversations", opened(conversation, customer, at=at)), ("inbound", message),
            ("conversations", added(message, conversation=conversation, customer=customer))]


async def written(database_url: str, events: Sequence[tuple[str, object]],
                  agent: str = "ada") -> str:
    """Write ``events`` as the sink does; the agent's token."""
    conn = await asyncpg.connect(database_url)
    try:
        await write_batch(conn, list(events))  # type: ignore[arg-type]
        return await create_token(conn, agent, Role.AGENT)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def signed_in(topics: Settings, database_url: str, token: str, locale: str = "en-US"
                    ) -> AsyncIterator[tuple[RunningGateway, Any, Any]]:
    """A running gateway, and a console page signed in with ``token`` (and its browser, for
    more pages)."""
    async with running_gateway(topics, database_url, port=free_port()) as gateway, \
            playwright_api.async_playwright() as p:
        browser = await launch_chromium(p)
        try:
            page = await (await browser.new_context(locale=locale)).new_page()
            await sign_in(page, gateway.url, token)
            yield gateway, page, browser
        finally:
            await browser.close()
