"""What-if on a recorded period: history → routing inputs → the routing core → side by side."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import asyncpg

from harness.cli import omniroute_env, run_omniroute
from integration.analytics.scenario import T, write_morning
from omniroute.analytics.recorded import recorded_inputs
from omniroute.analytics.whatif import Arrival, Scenario, Shift, replay
from omniroute.routing.config import parse_config
from omniroute.routing.live import publish_config
from omniroute.settings import Settings


class TestRecordedInputs:
    async def test_arrivals_and_shifts_from_history(self, database_url: str) -> None:
        """c1 handled 570 s; c2 left after 120 s; c3 (bot) left after 120 s; a1 online 30 min."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
            arrivals, shifts = await recorded_inputs(conn, "support", T, T + timedelta(hours=1))
        finally:
            await conn.close()
        t0 = T.timestamp()
        assert arrivals == [
            Arrival("c1", t0, "webchat", 570.0, None, "cust-c1"),
            Arrival("c2", t0 + 300, "webchat", None, 120.0, "cust-c2"),
            Arrival("c3", t0 + 1200, "sms", None, 120.0, "cust-c3")]
        assert shifts == [Shift("a1", t0, t0 + 1800)]
        one_chat = replay("support", arrivals, shifts, Scenario("1 chat", capacity=1),
                          t0, t0 + 3600)
        assert (one_chat.answered, one_chat.abandoned) == (2, 1)  # c2 gives up behind c1

    async def test_whatif_command_side_by_side(self, database_url: str, tmp_path: Path) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
        finally:
            await conn.close()
        env = omniroute_env(OMNIROUTE_DATABASE_URL=database_url,
                            OMNIROUTE_STATE_DIR=str(tmp_path / "state"))
        args = ("whatif", "--from", "2026-11-20T09:00", "--to", "2026-11-20T10:00",
                "--pool", "support", "--agents", "2", "--capacity", "1", "--policy",
                "round_robin")
        done = run_omniroute(*args, "--format", "json", env=env)
        assert done.returncode == 0, done.stderr
        recorded, alternative = json.loads(done.stdout)
        assert (recorded["answered"], recorded["abandoned"]) == (3, 0)
        assert (alternative["answered"], alternative["sla_attainment"]) == (3, 1.0)
        assert alternative["handled"] == {"agent-1": 2, "agent-2": 1}
        text = run_omniroute(*args, env=env)
        assert "SLA attainment" in text.stdout and "Fairness (Jain)" in text.stdout
        page = run_omniroute(*args, "--format", "html", env=env).stdout
        assert page.startswith("<!doctype html>") and page.count("<tr>") == 9
        assert "round_robin, 2 agents, capacity 1" in page

    async def test_recorded_agents_keep_their_configured_capacity(
            self, topics: Settings, database_url: str, tmp_path: Path) -> None:
        """The recorded shifts were replayed at the nominal 3 chats per agent whatever the
        agents' capacities (a desk of capacity-20 agents replayed as capacity 3). With a1 at
        capacity 1 in the live routing configuration, the recorded morning replays as it
        happened for one chat at a time: c2 gives up behind c1. The what-if scenario with
        the recorded shifts and another policy keeps the capacities too."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
        finally:
            await conn.close()
        await publish_config(topics, parse_config({
            "routing": {"default_pool": "support"}, "pools": {"support": {}},
            "agents": {"a1": {"pool": "support", "capacity": 1}}}), actor="test")
        env = omniroute_env(OMNIROUTE_DATABASE_URL=database_url,
                            OMNIROUTE_KAFKA_BOOTSTRAP=topics.kafka_bootstrap,
                            OMNIROUTE_TOPIC_NAMESPACE=topics.topic_namespace,
                            OMNIROUTE_STATE_DIR=str(tmp_path / "state"))
        args = ("whatif", "--from", "2026-11-20T09:00", "--to", "2026-11-20T10:00",
                "--pool", "support", "--policy", "round_robin")
        done = run_omniroute(*args, "--format", "json", env=env)
        assert done.returncode == 0, done.stderr
        recorded, alternative = json.loads(done.stdout)
        assert (recorded["answered"], recorded["abandoned"]) == (2, 1)
        assert (alternative["answered"], alternative["abandoned"]) == (2, 1)
        assert recorded["scenario"]["capacities"] == {"a1": 1}
        page = run_omniroute(*args, "--format", "html", env=env).stdout
        assert "longest_idle, recorded shifts, capacities as configured" in page
