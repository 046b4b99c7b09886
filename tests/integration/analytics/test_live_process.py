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


def gauge(text: str, name: str) -> float:
    """The value of an unlabelled gauge in a Prometheus exposition (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


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
            text, refreshed, readiness = "", 0.0, []
            async with aiohttp.ClientSession() as http:
                for _ in range(120):
                    try:
                        # readiness is asked throughout, also while the first refresh runs
                        async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                            readiness.append((r.status, await r.text()))
                        async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                            text = await r.text()
                        refreshed = gauge(text, "omniroute_analytics_refreshed_timestamp_seconds")
                        if refreshed > 0:
                            break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.2)
            assert refreshed > 0, text[-2000:]
            assert readiness and all(status == 200 for status, _ in readiness), readiness
            assert 'omniroute_support_conversations_waiting{pool="support"} 1.0' in text, text[-2000:]
            assert "omniroute_analytics_refresh_seconds " in text
        finally:
            process.terminate()
            output = (await asyncio.wait_for(process.communicate(), 30))[0].decode()
        assert '"analytics refreshed"' in output
