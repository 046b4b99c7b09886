"""Staffing from measured demand: arrivals and handle time per interval, read from history."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from integration.analytics.scenario import T, write_morning
from omniroute.analytics.compute import refresh
from omniroute.analytics.demand import measured_demand
from omniroute.analytics.planning import Demand, plan
from omniroute.analytics.staffing import StaffingInput, required_agents


class TestMeasuredDemand:
    async def test_per_half_hour_arrivals_and_handle_time(self, database_url: str) -> None:
        """09:00-09:30: 3 conversations, handle time 570 s (c1, the only one an agent held)."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
            await refresh(conn, T + timedelta(hours=2))
            demand = await measured_demand(conn, T, T + timedelta(hours=1), 1800,
                                           pool="support")
            with pytest.raises(ValueError, match="15 minutes"):
                await measured_demand(conn, T, T + timedelta(hours=1), 1000)
        finally:
            await conn.close()
        assert demand == [Demand(T, 3.0, 570.0)]
        rows = plan(demand, StaffingInput(contacts=0, aht_s=180, interval_s=1800))
        expected = required_agents(StaffingInput(contacts=3, aht_s=570, interval_s=1800))
        assert rows[0]["agents"] == expected.agents and rows[0]["aht_s"] == 570.0
        assert rows[0]["start"] == T.isoformat()
