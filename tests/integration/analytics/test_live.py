"""Live gauges: the last hour per pool, and conversations nobody holds, from PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from prometheus_client import REGISTRY

from integration.analytics.scenario import EXPECTED, T, write_morning
from omniroute.analytics.compute import refresh
from omniroute.analytics.live import publish


def figure(pool: str, name: str) -> float | None:
    return REGISTRY.get_sample_value("omniroute_support_last_hour",
                                     {"pool": pool, "figure": name})


class TestLiveGauges:
    async def test_last_hour_figures_per_pool(self, database_url: str) -> None:
        """At 10:00 the last hour is the morning: FRT 65 s, FCR 50 %, c2 still unheld."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
            now = T + timedelta(hours=1)
            await refresh(conn, now)
            await publish(conn, now)
        finally:
            await conn.close()
        assert figure("support", "conversations") == 3.0
        assert figure("support", "frt_median") == 65.0
        assert figure("support", "fcr_rate") == pytest.approx(EXPECTED["fcr_rate"])
        assert figure("none", "occupancy") == pytest.approx(EXPECTED["occupancy"])
        waiting = REGISTRY.get_sample_value("omniroute_support_conversations_waiting",
                                            {"pool": "support"})
        assert waiting == 1.0  # c2: open, abandoned in the queue, never resolved
