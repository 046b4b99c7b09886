"""Operable from the first minute: administration, the agent's work and the supervisor board
in headless Chromium, on ``omniroute up`` started from an empty state directory.

The only set-up outside the browser is the admin's token (``omniroute agents token root
--role admin``, the CLI). In the console the admin creates a pool, adds agent ada with a
skill, issues ada's token and makes the pool the default. A customer writes (a signed
Twilio webhook): ada, signed in in a second browser, is offered the conversation and
replies (accepting with Alt+A after the title announced the offer; ada's browser asks for
Korean and she switches to English), while the board's numbers change (waiting 1 → 0, chatting 0 → 1). The admin then
removes the default pool: the next customer's request is dead-lettered and the
conversation parked; both show on the board. With the default pool back, the admin
replays the dead letter from the board and ada is offered that conversation.
A refusal the router sends ada shows in her console with its reason. Screenshots of the
admin screen, the board and ada's console are kept as artifacts.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import asyncpg
import pytest

from e2e.console.test_console import ARTIFACTS
from harness.browser import launch_chromium
from harness.cli import run_omniroute
from harness.kafka import consume, produce
from harness.ready import wait_ready
from harness.stack import running_stack, stack_env
from omniroute.contract import (
    AssignmentEvent,
    AssignmentKind,
    ConversationEvent,
    ConversationEventKind,
    OutboundMessage,
)
from omniroute.routing.live import read_config
from omniroute.settings import Settings
from omniroute_connectors.signatures import twilio_signature

playwright_api = pytest.importorskip("playwright.async_api")
TOKEN = "admin-e2e-twilio"
SLOW = 180_000  # ms: the faust worker and the router start slowly on a busy machine


async def post_sms(base: str, sid: str, sender: str, text: str) -> int:
    pairs = [("MessageSid", sid), ("From", sender), ("To", "+14155550199"), ("Body", text)]
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": twilio_signature(TOKEN, f"{base}/webhooks/twilio", pairs)}
    async with aiohttp.ClientSession() as session, session.post(
            f"{base}/webhooks/twilio", data=urlencode(pairs), headers=headers) as response:
        return response.status


async def text_of(page: object, selector: str) -> str:
    return str(await page.locator(selector).first.inner_text()).strip()  # type: ignore[attr-defined]


async def wait_text(page: object, selector: str, expected: str, timeout: float = SLOW) -> None:
    """Until the first element matching ``selector`` shows ``expected`` (the board refreshes)."""
    await page.wait_for_function(  # type: ignore[attr-defined]
        """([selector, expected]) => {
             const node = document.querySelector(selector);
             return node && node.textContent.trim() === expected; }""",
        arg=[selector, expected], timeout=timeout)


async def refreshed(page: object) -> None:
    """Until the board has rendered again (its time line changes with every refresh)."""
    before = await text_of(page, "#board-at")
    await page.wait_for_function(  # type: ignore[attr-defined]
        "(before) => document.getElementById('board-at').textContent !== before", arg=before,
        timeout=SLOW)


async def sign_in(page: object, url: str, token: str) -> None:
    await page.goto(url + "/")  # type: ignore[attr-defined]
    await page.fill("#token", token)  # type: ignore[attr-defined]
    await page.click("#signin")  # type: ignore[attr-defined]
    await page.wait_for_function(  # type: ignore[attr-defined]
        "document.getElementById('link').dataset.state === 'live'")


async def admin_sets_up(page: object, settings: Settings) -> str:
    """Pool, agent with a skill, ada's token, default pool: through the admin screen."""
    await page.click("#tab-admin")  # type: ignore[attr-defined]
    await wait_text(page, "#config-version", "0", 30_000)
    await page.fill("#pool-name", "support")  # type: ignore[attr-defined]
    await page.fill("#pool-offer-timeout", "300")  # type: ignore[attr-defined]
    await page.click("#pool-save")  # type: ignore[attr-defined]
    await wait_text(page, "#config-version", "1", 30_000)
    await page.fill("#agent-id", "ada")  # type: ignore[attr-defined]
    await page.select_option("#agent-pool", "support")  # type: ignore[attr-defined]
    await page.fill("#agent-capacity", "2")  # type: ignore[attr-defined]
    await page.fill("#agent-skills", "korean=5")  # type: ignore[attr-defined]
    await page.click("#agent-save")  # type: ignore[attr-defined]
    await wait_text(page, "#admin-agents tr[data-agent=ada] .skills", "korean=5", 30_000)
    await page.select_option("#routing-default", "support")  # type: ignore[attr-defined]
    # a rule naming a skill nobody has is saved, and the screen says it will never match
    await page.fill("#routing-rules", '{"skill": "billing", "pool": "support"}')  # type: ignore[attr-defined]
    await page.click("#routing-save")  # type: ignore[attr-defined]
    await wait_text(page, "#config-version", "3", 30_000)
    await wait_text(page, "#admin-result", "Saved: version 3 · Warning: rule 1 (skill billing → "
                    "pool support) never matches: no agent has the skill billing", 10_000)
    # in a Korean console the warning is Korean (it was English until 2026-12-07)
    await page.select_option("#lang", "ko")  # type: ignore[attr-defined]
    await page.click("#routing-save")  # type: ignore[attr-defined]
    await wait_text(page, "#admin-result", "변경 없음 · 경고: 규칙 1 (스킬 billing → 풀 support)은 "
                    "적용되지 않습니다: billing 스킬을 가진 상담원이 없습니다", 10_000)
    await page.select_option("#lang", "en")  # type: ignore[attr-defined]
    await page.fill("#token-agent", "ada")  # type: ignore[attr-defined]
    await page.fill("#token-expires", "30d")  # type: ignore[attr-defined]
    await page.click("#token-issue")  # type: ignore[attr-defined]
    token = await text_of(page, "#issued-token")
    assert token.startswith("omr_")
    version, config = await read_config(settings)
    assert version == 3 and config.default_pool == "support"
    assert config.agents["ada"] == {"pool": "support", "capacity": 2,
                                    "skills": {"korean": 5}, "auto_accept": False}
    await page.click("#toml-export")  # type: ignore[attr-defined]
    await page.wait_for_function(  # type: ignore[attr-defined]
        "document.getElementById('toml').value.includes('[agents.ada]')")
    await page.screenshot(path=str(ARTIFACTS / "admin.png"), full_page=True)  # type: ignore[attr-defined]
    return token


class TestOperableFromTheFirstMinute:
    async def test_admin_agent_board_and_replay_in_the_browser(
            self, kafka_bootstrap: str, namespace: str, database_url: str,
            tmp_path: Path) -> None:
        """Empty stack → configured in the console → routed, replied, counted, replayed."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        env = stack_env(kafka_bootstrap=kafka_bootstrap, namespace=namespace,
                        database_url=database_url, state_dir=tmp_path / "state",
                        OMNIROUTE_TWILIO_AUTH_TOKEN=TOKEN)
        env["OMNIROUTE_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{env['OMNIROUTE_INGRESS_PORT']}"
        settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_namespace=namespace,
                            state_dir=tmp_path / "state")
        issued = run_omniroute("agents", "token", "root", "--role", "admin", env=env)
        assert issued.returncode == 0, issued.stderr
        root_token = issued.stdout.strip()
        base = env["OMNIROUTE_PUBLIC_BASE_URL"]
        console = f"http://127.0.0.1:{env['OMNIROUTE_GATEWAY_PORT']}"
        with running_stack(env) as stack:
            await wait_ready(console, base)
            async with playwright_api.async_playwright() as p:
                browser = await launch_chromium(p)
                try:
                    # the test's own waits evaluate JS expressions, which the console's CSP
                    # forbids in the page; the console's scripts still run under it
                    admin_page = await (await browser.new_context(
                        bypass_csp=True, viewport={"width": 1400, "height": 1000})).new_page()
                    await sign_in(admin_page, console, root_token)
                    ada_token = await admin_sets_up(admin_page, settings)

                    ada = await (await browser.new_context(
                        bypass_csp=True, viewport={"width": 1200, "height": 800},
                        locale="ko-KR")).new_page()
                    await ada.goto(console + "/")
                    assert await text_of(ada, "#signin") == "로그인"  # the browser's language
                    await ada.select_option("#lang", "en")  # the switch
                    assert await text_of(ada, "#signin") == "Sign in"
                    await sign_in(ada, console, ada_token)
                    await ada.select_option("#presence", "available")
                    # an agent's list is their own; a supervisor's is every open conversation
                    assert await ada.locator("#conversations-title").text_content() == \
                        "My conversations"
                    assert await admin_page.locator("#conversations-title").text_content() == \
                        "Open conversations"

                    await admin_page.click("#tab-board")
                    await wait_text(admin_page, "#board-counts [data-status=chatting] strong",
                                    "0", 30_000)
                    assert await post_sms(base, "SMadm1", "+14155550101",
                                          "Where is my parcel?") == 200
                    try:
                        await wait_text(admin_page,
                                        "#board-pools tr[data-pool=support] .waiting", "1")
                        offer = ada.locator("#offers .offer")
                        await offer.wait_for(timeout=SLOW)
                        # ringing on ada's screen: offered, and to whom
                        await wait_text(admin_page,
                                        "#board-pools tr[data-pool=support] .offered", "1")
                        await wait_text(admin_page, "#board-waiting .offered-to", "ada")
                    except playwright_api.TimeoutError as exc:
                        raise AssertionError(f"not routed\n{stack.log_tail(60)}") from exc
                    await ada.wait_for_function("document.title.includes('New offer')",
                                                timeout=5_000)
                    await ada.keyboard.press("Alt+a")  # accept the first offer
                    await ada.locator("#history .message.inbound").wait_for(timeout=60_000)
                    assert "+14155550101" in await text_of(ada, "#addresses")
                    # The first send fails as if Kafka's answer was lost (503); ada sends
                    # again: the same reply, so the same idempotency key.
                    keys: list[str] = []

                    async def answer_lost(route: object) -> None:
                        request = route.request  # type: ignore[attr-defined]
                        keys.append(json.loads(request.post_data)["client_id"])
                        if len(keys) == 1:
                            await route.fulfill(  # type: ignore[attr-defined]
                                status=503, content_type="application/json",
                                headers={"Retry-After": "5"}, body=json.dumps({"error": {
                                    "code": "unavailable",
                                    "message": "Kafka did not take the event; retry"}}))
                        else:
                            await route.continue_()  # type: ignore[attr-defined]

                    await ada.route("**/replies", answer_lost)
                    await ada.fill("#reply", "It ships today.")
                    await ada.click("#send")
                    refused = "Your reply was not sent: Kafka did not take the event; retry"
                    await wait_text(ada, "#action-error", refused, 10_000)
                    # the open conversation's refreshes keep it (user run 42: the next one
                    # cleared it); two, so the first has rendered
                    for _ in range(2):
                        async with ada.expect_response(lambda r: r.request.method == "GET" and (
                                "/api/v1/conversations/cnv_" in r.url), timeout=10_000):
                            pass
                    assert await text_of(ada, "#action-error") == refused
                    await ada.click("#send")
                    await ada.wait_for_function(  # cleared once the reply was taken
                        "document.getElementById('reply').value === ''", timeout=10_000)
                    await ada.unroute("**/replies")
                    assert len(keys) == 2 and keys[0] == keys[1], keys
                    await wait_text(admin_page, "#board-counts [data-status=chatting] strong",
                                    "1", 60_000)
                    await wait_text(admin_page, "#board-pools tr[data-pool=support] .waiting",
                                    "0", 60_000)
                    await wait_text(admin_page, "#board-pools tr[data-pool=support] .offered",
                                    "0", 10_000)
                    assert (await text_of(admin_page, "#board-agents tr[data-agent=ada] "
                                          "td:nth-child(4)")).startswith("50%")
                    # whom she chats with, not the conversation's id (user run 42)
                    assert await text_of(admin_page, "#board-agents tr[data-agent=ada] "
                                         ".held a") == "+14155550101 · sms"

                    # The admin types where to reassign ada's conversation: the board's
                    # refreshes keep the box, its text and its focus, and the refusal stays
                    # shown (user run 38: every refresh emptied the box, so the click sent
                    # no target, and the 400 it got was cleared by the next refresh).
                    box = admin_page.locator(
                        "#board-agents tr[data-agent=ada] input.reassign-to").first
                    await box.click()
                    await admin_page.keyboard.type("ada", delay=50)
                    await refreshed(admin_page)
                    assert await box.input_value() == "ada"
                    assert (await admin_page.evaluate(
                        "document.activeElement.dataset.draft || ''")).startswith("reassign:")
                    # the reason names who reassigned it: the gateway publishes the transfer
                    # as the holder, and her notice and the activity said only "supervisor"
                    async with admin_page.expect_request(
                            lambda r: r.url.endswith("/transfer")) as sent:
                        await admin_page.locator(
                            "#board-agents tr[data-agent=ada] button.reassign").first.click()
                    assert (await sent.value).post_data_json == {
                        "target_agent_id": "ada", "reason": "reassigned by root"}
                    refusal = "the conversation is already 'ada''s"
                    await wait_text(admin_page, "#board-error", refusal, 10_000)
                    await refreshed(admin_page)
                    assert await text_of(admin_page, "#board-error") == refusal

                    # No default pool: the next request is dead-lettered and parked.
                    await admin_page.click("#tab-admin")
                    await admin_page.select_option("#routing-default", "")
                    await admin_page.click("#routing-save")
                    await wait_text(admin_page, "#config-version", "4", 30_000)
                    assert await post_sms(base, "SMadm2", "+14155550102", "Hello?") == 200
                    await admin_page.click("#tab-board")
                    letter = admin_page.locator("#board-dlq tr[data-letter]").filter(
                        has_text="no pool: the request names none")
                    await letter.first.wait_for(timeout=SLOW)
                    assert "router" in await letter.first.locator(".letter-error").inner_text()
                    await admin_page.locator("#board-parked tr[data-conversation]").wait_for(
                        timeout=60_000)

                    # The default pool back, then Replay on the board: ada is offered it.
                    await admin_page.click("#tab-admin")
                    await admin_page.select_option("#routing-default", "support")
                    await admin_page.click("#routing-save")
                    await wait_text(admin_page, "#config-version", "5", 30_000)
                    await admin_page.click("#tab-board")
                    await letter.first.locator(".replay").click()
                    await admin_page.locator("#board-dlq .letter-state",
                                             has_text="replayed").wait_for(timeout=30_000)
                    second = ada.locator("#offers .offer")
                    await second.wait_for(timeout=SLOW)
                    # no longer parked: offered, so waiting in the support pool
                    await wait_text(admin_page, "#board-pools tr[data-pool=support] .waiting",
                                    "1", 60_000)
                    assert await admin_page.locator(
                        "#board-parked tr[data-conversation]").count() == 0
                    # It misses its first-reply target (automation's sla_breached event on
                    # the public topic): the board marks the row and counts it in its pool.
                    waiting = admin_page.locator("#board-waiting tr[data-conversation]")
                    conversation_id = await waiting.first.get_attribute("data-conversation")
                    assert conversation_id is not None
                    conn = await asyncpg.connect(database_url)
                    try:
                        customer_id = await conn.fetchval(
                            "SELECT customer_id FROM conversations WHERE conversation_id = $1",
                            conversation_id)
                    finally:
                        await conn.close()
                    missed = ConversationEvent(
                        event_id="sla:e2e", conversation_id=conversation_id,
                        customer_id=customer_id, kind=ConversationEventKind.SLA_BREACHED,
                        pool="support", reason="first_reply target 60s passed: 75s (policy e2e)")
                    await produce(kafka_bootstrap,
                                  settings.topic("omniroute.conversations.v1"),
                                  [(conversation_id.encode(), missed.to_json_bytes())])
                    await wait_text(admin_page, "#board-waiting .sla-missed",
                                    "SLA missed: first reply", 30_000)
                    await wait_text(admin_page, "#board-pools tr[data-pool=support] .sla", "1")
                    await admin_page.screenshot(path=str(ARTIFACTS / "board.png"),
                                                full_page=True)
                    # A refusal from the router reaches ada's console with its reason.
                    refusal = AssignmentEvent(
                        event_id="rej:e2e", agent_id="ada", kind=AssignmentKind.REJECTED,
                        reason="offer o-1 expired: it was offered to ada until 08:00")
                    await produce(kafka_bootstrap, settings.topic("omniroute.assignments.v1"),
                                  [(b"ada", refusal.to_json_bytes())])
                    await wait_text(ada, "#notice", "The router refused: offer o-1 expired: "
                                    "it was offered to ada until 08:00", 30_000)
                    await ada.screenshot(path=str(ARTIFACTS / "agent.png"), full_page=True)
                    # The router routes to her again: the refusal no longer shows.
                    again = AssignmentEvent(
                        event_id="done:e2e-again", agent_id="ada", pool="support",
                        kind=AssignmentKind.COMPLETED, conversation_id="c-e2e-again")
                    await produce(kafka_bootstrap, settings.topic("omniroute.assignments.v1"),
                                  [(b"ada", again.to_json_bytes())])
                    await ada.wait_for_selector("#notice", state="hidden", timeout=30_000)
                    # The answer bot switched on for WhatsApp from the admin screen.
                    await admin_page.click("#tab-admin")
                    assert not await admin_page.is_checked("#bot-enabled")  # no [bot] yet
                    await admin_page.check("#bot-enabled")
                    await admin_page.fill("#bot-channels", "whatsapp")
                    await admin_page.click("#bot-save")
                    await wait_text(admin_page, "#config-version", "6", 30_000)
                    bot = (await read_config(settings))[1].bot
                    assert (bot["enabled"], bot["channels"], bot["threshold"]) == (
                        True, ["whatsapp"], 0.4)
                    assert await admin_page.is_checked("#bot-enabled")
                finally:
                    await browser.close()

        offers = await consume(
            kafka_bootstrap, settings.topic("omniroute.assignments.v1"), 3,
            where=lambda r: AssignmentEvent.from_json_bytes(r.value).kind in (
                AssignmentKind.OFFERED, AssignmentKind.ASSIGNED))
        events = [AssignmentEvent.from_json_bytes(r.value) for r in offers]
        assert [(e.kind, e.agent_id, e.pool) for e in events] == [
            ("offered", "ada", "support"), ("assigned", "ada", "support"),
            ("offered", "ada", "support")]
        assert events[0].conversation_id != events[2].conversation_id
        sent = await consume(  # the agent's reply (automation's acknowledgements aside)
            kafka_bootstrap, settings.topic("omniroute.outbound.v1"), 1,
            where=lambda r: OutboundMessage.from_json_bytes(r.value).automation is None)
        reply = OutboundMessage.from_json_bytes(sent[0].value)
        assert (reply.text, reply.recipient.value) == ("It ships today.", "+14155550101")
        conn = await asyncpg.connect(database_url)
        try:
            replays = await conn.fetch("SELECT actor, replayed_at FROM dead_letter_replays")
            actions = [r["action"] for r in await conn.fetch(
                "SELECT action FROM audit_log ORDER BY id")]
        finally:
            await conn.close()
        assert [(r["actor"], r["replayed_at"] is not None) for r in replays] == [
            ("admin:root", True)]
        assert actions.count("config.changed") == 6 and "token.issued" in actions
        print(f"screenshots: {ARTIFACTS / 'admin.png'}, {ARTIFACTS / 'board.png'}")
