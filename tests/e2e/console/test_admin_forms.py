"""The Admin screen's agent and pool forms in headless Chromium: a save changes only what
the admin changed.

``omniroute gateway`` runs alone as a subprocess on the session broker (a private topic
namespace) and a test database; the live configuration (pools ``billing`` and ``support``,
``support`` the default pool, agent ada in ``support``) is published before. A user run
typed ``ada`` into the agent form, lowered her capacity and saved: the pool select still
showed its first pool, ``billing``, and the save moved ada there. Here the admin types an
id or a pool name instead of clicking it in the table, changes one field and saves; the
admin API (``GET /api/v1/admin/config``) shows what the save did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from e2e.console.test_administration import sign_in, wait_text
from e2e.console.test_console import Chain, running_chain, wait_ready
from harness.browser import launch_chromium
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.routing.config import parse_config
from omniroute.routing.live import publish_config
from omniroute.settings import Settings

playwright_api = pytest.importorskip("playwright.async_api")
ADA = {"pool": "support", "capacity": 3, "skills": {"billing": 3, "korean": 5},
       "channels": {"email": {"weight": 2, "cap": 1}, "sms": {"weight": 2}},
       "auto_accept": True}
SUPPORT = {"selection": "least_occupied", "offer_timeout_s": 300, "queue_cap": 20,
           "sla_s": 120, "business_hours": {"timezone": "Asia/Seoul", "mon": ["09:00-18:00"]},
           "overflow": {"pool": "billing", "after_s": 600}}
CONFIG: dict[str, Any] = {
    "routing": {"default_pool": "support"},
    "pools": {"billing": {"offer_timeout_s": 60}, "support": SUPPORT},
    "agents": {"ada": ADA, "bo": {"pool": "billing", "capacity": 2}},
}


@asynccontextmanager
async def admin_screen(settings: Settings, database_url: str,
                       tmp_path: Path) -> AsyncIterator[tuple[Any, Chain, str]]:
    """CONFIG published, the gateway running, an admin signed in on the Admin screen."""
    await publish_config(settings, parse_config(CONFIG), actor="test")
    conn = await asyncpg.connect(database_url)
    try:
        token = await create_token(conn, "root", Role.ADMIN)
    finally:
        await conn.close()
    # ``omniroute gateway`` alone (the admin API needs nothing else), no routing file
    with running_chain(settings, database_url, tmp_path, {"gateway": ("gateway",)},
                       routing=None) as chain:
        await wait_ready(chain)
        async with playwright_api.async_playwright() as p:
            browser = await launch_chromium(p)
            try:
                # the waits evaluate JavaScript, which the console's CSP forbids in the page
                page = await (await browser.new_context(
                    bypass_csp=True, locale="en-US",
                    viewport={"width": 1400, "height": 1000})).new_page()
                await sign_in(page, chain.url, token)
                await open_admin(page)
                yield page, chain, token
            finally:
                await browser.close()


async def open_admin(page: Any) -> None:
    await page.click("#tab-admin")
    await page.locator("#admin-agents tr[data-agent=ada]").wait_for(timeout=30_000)


async def saved(page: Any, version: int) -> None:
    """Until the screen shows configuration ``version`` (the save was published)."""
    await page.wait_for_function(
        "v => document.getElementById('config-version').textContent === v",
        arg=str(version), timeout=30_000)


async def live_config(chain: Chain, token: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(
            f"{chain.url}/api/v1/admin/config",
            headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200, await response.text()
        config: dict[str, Any] = await response.json()
        return config


async def put_agent(chain: Chain, token: str, agent_id: str, profile: dict[str, Any]) -> None:
    """Another admin's save, through the admin API (the page does not see it)."""
    async with aiohttp.ClientSession() as session, session.put(
            f"{chain.url}/api/v1/admin/agents/{agent_id}", json=profile,
            headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200, await response.text()


async def conflict(page: Any, message: str) -> None:
    """Until the Admin screen shows ``message`` (a save refused with 412)."""
    await page.wait_for_function(
        "m => document.getElementById('admin-error').textContent === m",
        arg=message, timeout=30_000)


class TestAgentForm:
    async def test_typing_an_agents_id_loads_her_profile_and_saves_only_the_change(
            self, topics: Settings, database_url: str, tmp_path: Path) -> None:
        """Typing ada, capacity 3 → 1, Save: her pool, skills, caps, weights and auto-accept stay.

        A save over another admin's change of her skills is refused and shows them.
        """
        async with admin_screen(topics, database_url, tmp_path) as (page, chain, token):
            version = (await live_config(chain, token))["version"]
            assert await page.inner_text("#agent-save") == "Add agent"
            await page.type("#agent-id", "ada")  # key by key, as the admin did
            assert await page.input_value("#agent-pool") == "support"
            assert await page.input_value("#agent-skills") == "billing=3, korean=5"
            assert await page.input_value("#agent-caps") == "email=1"
            assert await page.is_checked("#agent-auto")
            assert await page.inner_text("#agent-save") == "Save ada"
            await page.fill("#agent-capacity", "1")
            await page.click("#agent-save")
            await saved(page, version + 1)
            after = await live_config(chain, token)
            assert after["agents"]["ada"] == {**ADA, "capacity": 1}
            assert after["agents"]["bo"] == CONFIG["agents"]["bo"]

            # choosing another pool is spelled out before the save
            await page.select_option("#agent-pool", "billing")
            assert await page.inner_text("#agent-note") == (
                "ada moves from pool support to billing; the conversations ada holds go along; "
                "offers not yet accepted go back to the queue of support")
            await page.select_option("#lang", "ko")
            assert await page.inner_text("#agent-save") == "ada 저장"
            await page.select_option("#lang", "en")

            # Another admin changes ada's skills while her profile is in this form: the save
            # is refused (If-Match), writes nothing, and the form shows her new skills.
            await page.fill("#agent-id", "")
            await page.type("#agent-id", "ada")
            await page.fill("#agent-capacity", "2")
            skills = {"billing": 1, "korean": 5, "thai": 2}
            await put_agent(chain, token, "ada", {**ADA, "capacity": 1, "skills": skills})
            await page.click("#agent-save")
            await conflict(page, "Someone changed the configuration since you opened agent ada "
                           f"(now version {version + 2}). The form shows the live values "
                           "again: check them and save again.")
            after = await live_config(chain, token)
            assert after["version"] == version + 2
            assert after["agents"]["ada"] == {**ADA, "capacity": 1, "skills": skills}
            assert await page.input_value("#agent-skills") == "billing=1, korean=5, thai=2"
            assert await page.input_value("#agent-capacity") == "1"

            # A change elsewhere (bo) is refused too, but ada's form keeps what was typed.
            await page.fill("#agent-capacity", "2")
            await put_agent(chain, token, "bo", {"pool": "billing", "capacity": 4})
            await page.click("#agent-save")
            await conflict(page, "Someone changed the configuration since you opened agent ada "
                           f"(now version {version + 3}), but not agent ada: nothing was saved, "
                           "your values are still in the form; save again.")
            assert (await live_config(chain, token))["agents"]["ada"]["capacity"] == 1
            assert await page.input_value("#agent-capacity") == "2"
            await page.click("#agent-save")
            await saved(page, version + 4)
            after = await live_config(chain, token)
            assert after["agents"]["ada"] == {**ADA, "capacity": 2, "skills": skills}
            assert after["agents"]["bo"]["capacity"] == 4

            # the name customers see: set, shown again when her profile is loaded, cleared
            await page.fill("#agent-name", "Ada")
            await page.click("#agent-save")
            await saved(page, version + 5)
            assert (await live_config(chain, token))["agents"]["ada"]["name"] == "Ada"
            await page.fill("#agent-id", "")
            await page.type("#agent-id", "ada")
            assert await page.input_value("#agent-name") == "Ada"
            await page.fill("#agent-name", "")
            await page.click("#agent-save")
            await saved(page, version + 6)
            assert "name" not in (await live_config(chain, token))["agents"]["ada"]

    async def test_a_new_agent_gets_the_default_pool_or_must_choose_one(
            self, topics: Settings, database_url: str, tmp_path: Path) -> None:
        """A new id: the default pool, not the first one; without a default the browser asks."""
        async with admin_screen(topics, database_url, tmp_path) as (page, chain, token):
            version = (await live_config(chain, token))["version"]
            await page.click("#admin-agents tr[data-agent=bo] a")  # bo's profile, in billing
            assert await page.input_value("#agent-pool") == "billing"
            await page.fill("#agent-id", "cy")
            # bo's values are not cy's: the form starts over, in the default pool
            assert await page.input_value("#agent-pool") == "support"
            assert await page.input_value("#agent-capacity") == "3"
            assert await page.inner_text("#agent-save") == "Add agent"
            await page.fill("#agent-skills", "korean=4")
            await page.click("#agent-save")
            await saved(page, version + 1)
            after = await live_config(chain, token)
            assert after["agents"]["cy"] == {"pool": "support", "capacity": 3,
                                             "skills": {"korean": 4}, "auto_accept": False}
            assert after["agents"]["bo"] == CONFIG["agents"]["bo"]

            # No default pool: a new agent's pool is unset and the form is not sent.
            await publish_config(topics, parse_config({**CONFIG, "routing": {}}), actor="test")
            await page.reload()
            await open_admin(page)
            await saved(page, version + 2)
            await page.fill("#agent-id", "dee")
            assert await page.input_value("#agent-pool") == ""
            await page.click("#agent-save")
            assert not await page.evaluate(
                "document.getElementById('agent-pool').validity.valid")
            await page.select_option("#agent-pool", "billing")
            await page.click("#agent-save")
            await saved(page, version + 3)
            assert (await live_config(chain, token))["agents"]["dee"]["pool"] == "billing"


class TestPoolForm:
    async def test_typing_a_pools_name_loads_its_settings_and_saves_only_the_change(
            self, topics: Settings, database_url: str, tmp_path: Path) -> None:
        """Typing support, queue cap 20 → 5, Save: selection, timeout, hours, overflow and SLA stay."""
        async with admin_screen(topics, database_url, tmp_path) as (page, chain, token):
            version = (await live_config(chain, token))["version"]
            assert await page.inner_text("#pool-save") == "Add pool"
            await page.type("#pool-name", "support")
            assert await page.input_value("#pool-offer-timeout") == "300"
            assert await page.inner_text("#pool-save") == "Save support"
            await page.fill("#pool-queue-cap", "5")
            await page.click("#pool-save")
            await saved(page, version + 1)
            after = await live_config(chain, token)
            assert after["pools"]["support"] == {**SUPPORT, "queue_cap": 5}

            # another name is a new pool: support's settings are not carried over
            await page.fill("#pool-name", "vip")
            assert await page.input_value("#pool-offer-timeout") == ""
            assert await page.input_value("#pool-hours") == ""
            assert await page.inner_text("#pool-save") == "Add pool"


class TestVersions:
    async def test_an_earlier_version_is_restored_from_the_versions_list(
            self, topics: Settings, database_url: str, tmp_path: Path) -> None:
        """The admin removes bo, then restores the version before from the versions list:
        bo is back with his profile. Cancelling the confirmation publishes nothing; a list
        another admin's change made stale is refused (412) and shown again. bo's own console
        says when he is taken out of routing and when he is back."""
        async with admin_screen(topics, database_url, tmp_path) as (page, chain, token):
            first = (await live_config(chain, token))["version"]
            conn = await asyncpg.connect(database_url)
            try:
                bo_token = await create_token(conn, "bo", Role.AGENT)
            finally:
                await conn.close()
            bo = await (await page.context.browser.new_context(
                bypass_csp=True, locale="en-US")).new_page()
            await sign_in(bo, chain.url, bo_token)
            assert await bo.is_visible("#presence-box") and not await bo.is_visible("#notice")
            answers: list[bool] = []  # the next confirmation's answer

            async def confirm(dialog: Any) -> None:
                assert f"Publish version {first} again" in dialog.message
                await (dialog.accept() if answers.pop(0) else dialog.dismiss())

            page.on("dialog", confirm)
            await page.click("#admin-agents tr[data-agent=bo] button")
            await saved(page, first + 1)
            assert "bo" not in (await live_config(chain, token))["agents"]
            await wait_text(bo, "#notice", "An admin took you out of routing: no new "
                            "conversations come to you, and the ones you held went back to "
                            "the queue.", 30_000)
            assert not await bo.is_visible("#presence-box")
            live = page.locator(f"#admin-versions tr[data-version='{first + 1}']")
            await live.filter(has_text="live").wait_for(timeout=30_000)
            assert "agent bo removed" in await live.inner_text()
            assert await live.locator("button").count() == 0  # the live one is not restorable
            restore = page.locator(f"#admin-versions tr[data-version='{first}'] button")

            answers.append(False)  # cancelled: nothing published
            await restore.click()
            assert (await live_config(chain, token))["version"] == first + 1

            # another admin's change since the list was shown: refused, the list shown again
            await put_agent(chain, token, "ada", {**ADA, "capacity": 1})
            answers.append(True)
            await restore.click()
            await conflict(page, "Someone changed the configuration since this list was shown "
                           f"(now version {first + 2}); version {first} was not restored. "
                           "Check the list and restore again.")
            await page.locator(f"#admin-versions tr[data-version='{first + 2}']").filter(
                has_text="live").wait_for(timeout=30_000)
            assert (await live_config(chain, token))["version"] == first + 2

            answers.append(True)
            await restore.click()
            await saved(page, first + 3)
            await wait_text(page, "#admin-result",
                            f"Restored version {first}: now version {first + 3}", 30_000)
            after = await live_config(chain, token)
            assert after["agents"]["bo"] == {"pool": "billing", "capacity": 2}
            assert after["agents"]["ada"]["capacity"] == 3  # as version 1 had her
            await wait_text(bo, "#notice", "You are in routing again: new conversations come "
                            "to you as your presence allows.", 30_000)
            assert await bo.is_visible("#presence-box")
            row = page.locator(f"#admin-versions tr[data-version='{first + 3}']")
            await row.filter(has_text=f"rollback to v{first}").wait_for(timeout=30_000)
            assert "admin:root" in await row.inner_text()
            assert answers == []
