"""``omniroute analytics run`` as a process: refreshes, serves the gauges, health and readiness."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import asyncpg

from harness.cli import omniroute_env
from harness.ports import free_port
from integration.analytics.scenario import write_morning


class TestAnalyticsRun:
    async def test_serves_live_gauges(self, database_url: str, tmp_path: Path) -> None:
        """The morning's open conversation c2 shows as waiting; refresh time is exported."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
        finally:
            await conn.close()
        port = free_port()
        env = omniroute_env(OMNIROUTE_DATABASE_URL=database_url, OMNIROUTE_METRICS_PORT=str(port),
                            OMNIROUTE_STATE_DIR=str(tmp_path / "state"), OMNIROUTE_LOG_FORMAT="json")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "omniroute", "analytics", "run", "--interval", "5", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            text = ""
            async with aiohttp.ClientSession() as http:
                for _ in range(120):
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                            text = await r.text()
                        if "omniroute_analytics_refreshed_timestamp_seconds " in text:
                            break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.5)
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    assert r.status == 200
            assert 'omniroute_support_conversations_waiting{pool="support"} 1.0' in text, text[-2000:]
            assert "omniroute_analytics_refresh_seconds " in text
        finally:
            process.terminate()
            output = (await asyncio.wait_for(process.communicate(), 30))[0].decode()
        assert '"analytics refreshed"' in output
