"""The HTML report from ``omniroute report`` and the console's Reports screen, in Chromium.

A literal morning of history is in a test database; the real ``omniroute
report`` command writes the HTML file (progress on stderr), Chromium opens it
from disk with the network switched off; then the real gateway serves the
console's Reports screen to a supervisor, who shows the report and runs the
staffing calculator. Screenshots of both are kept as artifacts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import asyncpg
import pytest

from harness.browser import launch_chromium
from harness.cli import omniroute_env, run_omniroute
from harness.ports import free_port
from integration.analytics.scenario import EXPECTED, write_morning
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.gateway.server import running_gateway
from omniroute.settings import Settings

playwright_api = pytest.importorskip("playwright.async_api")
ARTIFACTS = Path(os.environ.get("OMNIROUTE_TEST_ARTIFACTS", "/tmp/omniroute-test-artifacts"))


async def seeded(database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        await write_morning(conn)
        return await create_token(conn, "boss", Role.SUPERVISOR)
    finally:
        await conn.close()


class TestReportsInChromium:
    async def test_cli_html_report_opens_offline(self, database_url: str, tmp_path: Path) -> None:
        """The file renders its charts with every request outside file:// refused."""
        await seeded(database_url)
        env = omniroute_env(OMNIROUTE_DATABASE_URL=database_url,
                            OMNIROUTE_STATE_DIR=str(tmp_path / "state"))
        page_file = tmp_path / "report.html"
        done = run_omniroute("report", "--from", "2026-11-20T09:00", "--to", "2026-11-20T10:00",
                             "--by", "pool,channel", "--format", "html", "-o", str(page_file),
                             env=env)
        assert done.returncode == 0, done.stderr
        assert "analytics: conversations 3/3" in done.stderr  # progress
        as_json = run_omniroute("report", "--from", "2026-11-20T09:00", "--to",
                                "2026-11-20T10:00", "--format", "json", "--no-refresh", env=env)
        total = json.loads(as_json.stdout)["total"]
        assert total["fcr_rate"] == EXPECTED["fcr_rate"] and total["conversations"] == 3
        async with playwright_api.async_playwright() as p:
            browser = await launch_chromium(p)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                requests: list[str] = []
                page.on("request", lambda r: requests.append(r.url))
                await page.goto(page_file.as_uri())
                assert await page.locator("svg").count() == 3
                assert await page.locator("#kpis .tile").first.inner_text() == "3\nConversations"
                assert "50.0%" in await page.locator("#kpis").inner_text()  # FCR
                rows = await page.locator("#groups tr").count()
                assert rows == 1 + 3  # header, (none) agent time, support/sms, support/webchat
                box = await page.locator("svg[aria-label='funnel sankey']").bounding_box()
                assert box and box["width"] > 100
                assert all(u.startswith("file://") for u in requests), requests
                shot = ARTIFACTS / "analytics-report.png"
                shot.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(shot), full_page=True)
                print(f"report screenshot: {shot}")
            finally:
                await browser.close()

    async def test_console_reports_screen(self, topics: Settings, database_url: str) -> None:
        """A supervisor opens Reports from the console, sees the report and staffs 14 agents."""
        token = await seeded(database_url)
        async with running_gateway(topics, database_url, port=free_port()) as gateway, \
                playwright_api.async_playwright() as p:
            browser = await launch_chromium(p)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 1900})
                await page.goto(gateway.url + "/")
                await page.evaluate(f"sessionStorage.setItem('omniroute-token', {token!r})")
                await page.click("#reports-link")
                await page.wait_for_url("**/console/reports.html")
                await page.fill("#from", "2026-11-20T09:00")
                await page.fill("#to", "2026-11-20T10:00")
                await page.fill("#by", "channel")
                await page.click("#run-report")
                frame = page.frame_locator("#report-frame")
                await frame.locator("#kpis").wait_for(timeout=60_000)
                assert await frame.locator("svg").count() == 3
                assert "3\nConversations" in await frame.locator("#kpis").inner_text()
                await page.click("#run-staffing")
                agents = page.locator("#staffing-result tr[data-key='agents'] td").nth(1)
                try:
                    await agents.wait_for(timeout=30_000)
                except playwright_api.TimeoutError as exc:
                    raise AssertionError(await page.locator("#staffing-result").inner_text()) \
                        from exc
                assert await agents.inner_text() == "14"
                rostered = page.locator("#staffing-result tr[data-key='rostered'] td").nth(1)
                assert await rostered.inner_text() == "20"
                shot = ARTIFACTS / "analytics-reports-screen.png"
                shot.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(shot))  # full_page misplaces iframe content
                print(f"reports screen screenshot: {shot}")
            finally:
                await browser.close()

    async def test_a_korean_supervisor_reads_it_in_korean(
            self, topics: Settings, database_url: str) -> None:
        """User run 43's Korean supervisor read the Reports screen and the report in English
        while the rest of her console was Korean. The screen takes the console's language,
        and the gateway renders the report in it (``lang``)."""
        token = await seeded(database_url)
        async with running_gateway(topics, database_url, port=free_port()) as gateway, \
                playwright_api.async_playwright() as p:
            browser = await launch_chromium(p)
            try:
                context = await browser.new_context(locale="ko-KR",
                                                    viewport={"width": 1280, "height": 1900})
                page = await context.new_page()
                await page.goto(gateway.url + "/")
                await page.evaluate(f"sessionStorage.setItem('omniroute-token', {token!r})")
                await page.goto(gateway.url + "/console/reports.html")
                assert await page.inner_text("#run-report") == "리포트 보기"
                assert await page.inner_text("#run-staffing") == "계산"
                await page.fill("#from", "2026-11-20T09:00")
                await page.fill("#to", "2026-11-20T10:00")
                await page.click("#run-report")
                frame = page.frame_locator("#report-frame")
                await frame.locator("#kpis").wait_for(timeout=60_000)
                assert "3\n상담 수" in await frame.locator("#kpis").inner_text()
                assert await frame.locator("h2").all_inner_texts() == [
                    "기간별 상담 수와 첫 응답 시간", "요일·시간대별 상담량",
                    "퍼널: 선제 연락 → 셀프서비스 → 봇 → 상담원", "pool, channel별"]
                assert "상담원 해결" in (await frame.locator(
                    "svg[aria-label='funnel sankey']").text_content() or "")
                await page.click("#run-staffing")
                agents = page.locator("#staffing-result tr[data-key='agents'] td")
                await agents.nth(1).wait_for(timeout=30_000)
                assert await agents.all_inner_texts() == ["필요 근무 인원", "14"]
            finally:
                await browser.close()

    async def test_reports_in_a_new_tab(self, topics: Settings, database_url: str) -> None:
        """Reports opened in a tab of its own (empty sessionStorage) borrows the sign-in of a
        console open in another tab, and still asks for it where no console is signed in."""
        token = await seeded(database_url)
        async with running_gateway(topics, database_url, port=free_port()) as gateway, \
                playwright_api.async_playwright() as p:
            browser = await launch_chromium(p)
            try:
                signed_in = await browser.new_context()
                console = await signed_in.new_page()
                await console.goto(gateway.url + "/")
                await console.fill("#token", token)
                await console.click("#signin")
                await console.wait_for_selector("#app", state="visible")
                reports = await signed_in.new_page()  # a new tab: its sessionStorage is empty
                await reports.goto(gateway.url + "/console/reports.html")
                who = reports.locator("#who")
                await who.filter(has_text="boss (supervisor)").wait_for(timeout=10_000)
                await reports.fill("#from", "2026-11-20T09:00")
                await reports.fill("#to", "2026-11-20T10:00")
                await reports.click("#run-report")
                frame = reports.frame_locator("#report-frame")
                await frame.locator("#kpis").wait_for(timeout=60_000)
                assert "3\nConversations" in await frame.locator("#kpis").inner_text()
                assert await reports.locator("#signin-needed").is_hidden()

                stranger = await (await browser.new_context()).new_page()
                await stranger.goto(gateway.url + "/console/reports.html")
                await stranger.locator("#signin-needed").wait_for(state="visible",
                                                                   timeout=10_000)
                assert await stranger.evaluate("sessionStorage.length") == 0
            finally:
                await browser.close()
