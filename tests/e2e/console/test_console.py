"""The agent console in headless Chromium against the real chain of processes.

``omniroute worker`` (identity + conversations), ``omniroute router run`` (a
routing configuration with the agent in a pool with capacity), ``omniroute
sink`` and ``omniroute gateway`` run as subprocesses on the session broker (a
private topic namespace) and a test database. A customer's SMS enters as an
InboundMessage on ``omniroute.inbound.v1``; nothing else is produced by the
test. The agent signs in, goes available, sees the router's offer arrive live,
accepts it, reads the history, types (debounced typing
indicators reach ``omniroute.internal.typing``), replies with a canned response and resolves:
the reply is on ``omniroute.outbound.v1`` and PostgreSQL holds both messages
in one conversation. A screenshot of the console is kept as an artifact.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from harness import ready
from harness.browser import launch_chromium
from harness.cli import omniroute_env
from harness.kafka import consume, consume_all, produce
from harness.ports import free_port
from integration.history.factories import inbound
from omniroute.contract import (
    AgentEvent,
    AgentEventKind,
    AssignmentEvent,
    AssignmentKind,
    Channel,
    DeliveryState,
    OutboundMessage,
    utcnow,
)
from omniroute.delivery.sending import failed, status
from omniroute.gateway.admin import create_token, set_canned_response
from omniroute.gateway.auth import Role
from omniroute.settings import Settings
from omniroute_connectors.webchat.indicators import TYPING_TOPIC, TypingSignal

playwright_api = pytest.importorskip("playwright.async_api")
ARTIFACTS = Path(os.environ.get("OMNIROUTE_TEST_ARTIFACTS", "/tmp/omniroute-test-artifacts"))
PROCESSES = {
    "worker": ("worker",),
    "router": ("router", "run", "--tick", "0.5"),
    "sink": ("sink",),
    "gateway": ("gateway",),
}
ROUTING = """
[routing]
default_pool = "support"

[pools.support]
offer_timeout_s = 300
heartbeat_grace_s = 300

[agents.ada]
pool = "support"
capacity = 3
"""


@dataclass
class Chain:
    """The running processes: where the console is, and their logs."""

    url: str
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen[bytes]]

    def tails(self, count: int = 15) -> str:
        """The last lines each process wrote (for failure messages)."""
        return "\n".join(
            f"--- {name}\n" + "".join(path.read_text(errors="replace").splitlines(True)[-count:])
            for name, path in self.logs.items())

    def check(self) -> None:
        """Fail at once when a process of the chain has exited (nothing will come after)."""
        gone = {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}
        if gone:
            raise AssertionError(f"exited: {gone}\n{self.tails()}")


@contextmanager
def running_chain(settings: Settings, database_url: str, tmp_path: Path,
                  commands: dict[str, tuple[str, ...]] = PROCESSES,
                  routing: str | None = ROUTING,
                  env: dict[str, str] | None = None) -> Iterator[Chain]:
    """Start ``commands`` (worker, router, sink and gateway), with ``routing`` as the routing
    file when given and ``env`` added to their environment; stop them (SIGTERM, then
    SIGKILL) afterwards."""
    gateway_port = free_port()
    extra: dict[str, str] = dict(env or {})
    if routing is not None:
        config = tmp_path / "routing.toml"
        config.write_text(routing)
        extra["OMNIROUTE_ROUTING_CONFIG"] = str(config)
    base = omniroute_env(
        OMNIROUTE_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        OMNIROUTE_TOPIC_NAMESPACE=settings.topic_namespace,
        OMNIROUTE_DATABASE_URL=database_url, OMNIROUTE_STATE_DIR=str(tmp_path / "state"),
        OMNIROUTE_GATEWAY_PORT=str(gateway_port), OMNIROUTE_LOG_FORMAT="json", **extra,
    )
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, argv in commands.items():
            env = {**base, "OMNIROUTE_METRICS_PORT": str(free_port())}
            with logs[name].open("wb") as log:
                processes[name] = subprocess.Popen(
                    [sys.executable, "-m", "omniroute", *argv], env=env,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        yield Chain(f"http://127.0.0.1:{gateway_port}", logs, processes)
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def wait_ready(chain: Chain, timeout: float = 120) -> None:
    """Until the gateway answers /readyz (database and assignments stream)."""
    await ready.wait_ready(chain.url, timeout=timeout, alive=chain.check, context=chain.tails)


async def prepare_agent(database_url: str) -> str:
    """Ada's agent token and a canned response of the workspace."""
    conn = await asyncpg.connect(database_url)
    try:
        await set_canned_response(conn, "default", "ships", "Your parcel ships today.")
        return await create_token(conn, "ada", Role.AGENT)
    finally:
        await conn.close()


def kind_is(kind: AgentEventKind) -> object:
    return lambda r: AgentEvent.from_json_bytes(r.value).kind is kind


class TestAgentConsoleOnTheRealChain:
    async def test_customer_message_offer_accept_reply_resolve(
            self, topics: Settings, database_url: str, tmp_path: Path) -> None:
        """Worker → router → gateway → Chromium → gateway → Kafka, with history in PostgreSQL."""
        token = await prepare_agent(database_url)
        message = inbound(0, text="Where is my parcel?", at=utcnow())
        again = inbound(1, text="It is a birthday present", channel=Channel.WHATSAPP,
                        at=utcnow() - timedelta(minutes=1))
        with running_chain(topics, database_url, tmp_path) as chain:
            await wait_ready(chain)
            async with playwright_api.async_playwright() as p:
                browser = await launch_chromium(p)
                # the waits below evaluate JavaScript, which the console's CSP forbids
                page = await (await browser.new_context(
                    bypass_csp=True, viewport={"width": 1200, "height": 800})).new_page()
                sockets: list[str] = []
                page.on("websocket", lambda socket: sockets.append(socket.url))
                try:
                    await page.goto(chain.url + "/")
                    await page.fill("#token", token)
                    await page.click("#signin")
                    await page.wait_for_selector("#who:has-text('ada')")
                    await page.wait_for_function(
                        "document.getElementById('link').textContent === 'live'")
                    # the stream's token rides as a subprotocol, never in the URL
                    assert sockets and not any(token in url for url in sockets), sockets
                    await page.select_option("#presence", "available")
                    presence = await consume(
                        topics.kafka_bootstrap, topics.topic("omniroute.agent-events.v1"), 1,
                        where=kind_is(AgentEventKind.PRESENCE))
                    assert presence, "the console never published the presence"

                    # The customer writes: the only record the test produces.
                    await produce(topics.kafka_bootstrap, topics.topic("omniroute.inbound.v1"),
                                  [(message.kafka_key.encode(), message.to_json_bytes())])

                    offer = page.locator("#offers .offer")
                    try:
                        await offer.wait_for(timeout=180_000)  # the faust worker starts slowly on a busy machine
                    except playwright_api.TimeoutError as exc:
                        raise AssertionError(f"no offer reached the console\n{chain.tails()}") from exc
                    # the offer shows what the customer wrote, so the agent knows what they accept
                    await offer.locator(".preview", has_text="Where is my parcel?").wait_for(
                        timeout=30_000)
                    assert await offer.locator(".channel").text_content() == "sms"
                    # she writes again while offered, on WhatsApp from the same phone: the
                    # offer shows her latest words and the channel a reply will take
                    await produce(topics.kafka_bootstrap, topics.topic("omniroute.inbound.v1"),
                                  [(again.kafka_key.encode(), again.to_json_bytes())])
                    await offer.locator(".preview", has_text="It is a birthday present").wait_for(
                        timeout=30_000)
                    assert await offer.locator(".channel").text_content() == "whatsapp"
                    # and what she came with first (user run 46's card after the answer
                    # bot's hand-off said only "no")
                    assert await offer.locator(".preview.opening").inner_text() == \
                        "Where is my parcel?"
                    await offer.locator(".accept").click()

                    inbound_row = page.locator("#history .message.inbound").first
                    await inbound_row.wait_for(timeout=60_000)
                    assert "Where is my parcel?" in await inbound_row.inner_text()
                    assert await inbound_row.locator(".channel").text_content() == "sms"
                    # the router's assignment is in the history too, as history stored it
                    assigned = page.locator("#history .activity.assigned")
                    await assigned.wait_for(timeout=30_000)
                    assert (await assigned.inner_text()).startswith("Assigned to ada (support)")
                    # her list says what was said last and that the customer waits (the
                    # acknowledgement answered nothing); her reply answers it
                    listed = page.locator("#conversations li.conversation")
                    await page.locator("#conversations li.conversation.awaiting").wait_for(
                        timeout=30_000)
                    # (not the acknowledgement, which nobody here wrote)
                    assert await listed.locator(".last").inner_text() == "It is a birthday present"

                    await page.type("#reply", "One moment")
                    await page.select_option("#canned", label="/ships")
                    assert await page.input_value("#reply") == "Your parcel ships today."
                    await page.click("#send")
                    await page.locator("#history .message.outbound",
                                       has_text="Your parcel ships today.").wait_for(
                                           timeout=30_000)
                    await listed.locator(".last", has_text="You: Your parcel ships today."
                                         ).wait_for(timeout=30_000)
                    assert await page.locator(
                        "#conversations li.conversation.awaiting").count() == 0

                    # the provider never took it (an outage outlasted delivery's retries):
                    # she sends it again from the console, once however often she clicks
                    (taken,) = await consume(
                        topics.kafka_bootstrap, topics.topic("omniroute.outbound.v1"), 1,
                        where=lambda r: OutboundMessage.from_json_bytes(r.value).text
                        == "Your parcel ships today.")
                    first = OutboundMessage.from_json_bytes(taken.value)
                    # first it waits for a later round, as delivery announces it
                    waits = status(first, "twilio", DeliveryState.QUEUED, "queued-1",
                                   error_code="retries_exhausted:599", error_message=(
                                       "could not reach Twilio; next try at 10:00:30 UTC "
                                       "(round 1 of 20)"))
                    await produce(topics.kafka_bootstrap, topics.topic("omniroute.delivery.v1"),
                                  [(waits.kafka_key.encode(), waits.to_json_bytes())])
                    await page.locator(".message .queued", has_text=(
                        "Not sent yet: could not reach Twilio; next try at 10:00:30 UTC")
                    ).wait_for(timeout=30_000)
                    lost = failed(first, "twilio", "retries_exhausted:599",
                                  "could not reach Twilio")
                    await produce(topics.kafka_bootstrap, topics.topic("omniroute.delivery.v1"),
                                  [(lost.kafka_key.encode(), lost.to_json_bytes())])
                    send_again = page.locator(".undelivered .resend")
                    await send_again.wait_for(timeout=30_000)
                    assert await page.locator(".message .queued").count() == 0, (
                        "failed supersedes queued")
                    await send_again.dblclick()  # two requests, one reply
                    await page.locator("#history .message.outbound",
                                       has_text="Your parcel ships today.").nth(1).wait_for(
                                           timeout=30_000)
                    # the failed one now says it was sent again, and offers it no more
                    await page.locator(".undelivered .resent").wait_for(timeout=30_000)
                    assert await send_again.count() == 0
                    shot = ARTIFACTS / "console.png"
                    shot.parent.mkdir(parents=True, exist_ok=True)
                    await page.screenshot(path=str(shot), full_page=True)
                    print(f"console screenshot: {shot}")
                    await page.click("#resolve")
                    resolved = await consume(
                        topics.kafka_bootstrap, topics.topic("omniroute.agent-events.v1"), 1,
                        where=kind_is(AgentEventKind.RESOLVE))
                    # it leaves the list at once: history lists it open until the sink has
                    # written the resolve, and a user run's resolved conversations stayed
                    # listed (a 403 when opened) until some other event refreshed the list
                    await page.locator("#conversations li.conversation").wait_for(
                        state="detached", timeout=20_000)
                finally:
                    await browser.close()

        offers = await consume(
            topics.kafka_bootstrap, topics.topic("omniroute.assignments.v1"), 2,
            where=lambda r: AssignmentEvent.from_json_bytes(r.value).kind in (
                AssignmentKind.OFFERED, AssignmentKind.ASSIGNED))
        kinds = [AssignmentEvent.from_json_bytes(r.value) for r in offers]
        assert [(a.kind, a.agent_id) for a in kinds] == [
            (AssignmentKind.OFFERED, "ada"), (AssignmentKind.ASSIGNED, "ada")]
        conversation_id = kinds[0].conversation_id
        assert conversation_id

        # automation acknowledged the message at once (and surveys after the resolve); the
        # reply went out twice: first, and again from the console after it failed
        sent = await consume_all(topics.kafka_bootstrap, topics.topic("omniroute.outbound.v1"))
        messages = [OutboundMessage.from_json_bytes(r.value) for r in sent]
        assert [m.automation for m in messages[:3]] == ["acknowledgement", None, None]
        assert [m.automation for m in messages[3:]] in ([], ["survey"])
        reply, resent = messages[1:3]
        assert (resent.text, resent.channel, resent.recipient, resent.author) == (
            reply.text, reply.channel, reply.recipient, reply.author)
        assert resent.event_id != reply.event_id
        assert (reply.text, reply.recipient.value, reply.channel, reply.conversation_id) == (
            "Your parcel ships today.", "+14155550100", Channel.WHATSAPP, conversation_id)
        assert resolved and AgentEvent.from_json_bytes(resolved[0].value).conversation_id \
            == conversation_id

        typing = await consume(topics.kafka_bootstrap, topics.topic(TYPING_TOPIC), 2)
        signals = [TypingSignal.from_json_bytes(r.value) for r in typing]
        assert [(t.actor, t.agent_id, t.conversation_id, t.state) for t in signals] == [
            ("agent", "ada", conversation_id, True), ("agent", "ada", conversation_id, False)]

        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("SELECT direction, text FROM messages "
                                    "WHERE conversation_id = $1 ORDER BY created_at",
                                    conversation_id)
        finally:
            await conn.close()
        history = [(r["direction"], r["text"]) for r in rows]
        assert history[0] == ("inbound", "Where is my parcel?")
        assert ("outbound", "Your parcel ships today.") in history
        assert ("inbound", "It is a birthday present") in history
        automatic = [text for direction, text in history[1:]
                     if direction == "outbound" and text != "Your parcel ships today."]
        assert all(text.startswith(("Thanks for your message!", "How would you rate"))
                   for text in automatic), history
