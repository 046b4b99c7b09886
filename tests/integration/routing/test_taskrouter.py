"""TaskRouter-style routing through the real broker and the public topics: queues with
one capacity per agent, ordered targets with timeouts (configuration file), and a
holiday calendar lifted by a live configuration change."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from harness.kafka import consume, produce
from integration.routing.test_router import Router, agent_event, request
from omniroute.contract.assignments import AssignmentEvent
from omniroute.routing.config import load_config
from omniroute.routing.live import publish_config
from omniroute.settings import Settings

CONFIG = """
[routing]
default_pool = "support"

[pools.support]
heartbeat_grace_s = 3600
[[pools.support.targets]]
queue = "tier1"
timeout_s = 2
[[pools.support.targets]]
queue = "tier2"

[agents.ann]
pool = "support"
capacity = 1
auto_accept = true
queues = ["tier1", "tier2"]
[agents.bob]
pool = "support"
capacity = 1
auto_accept = true
queues = ["tier2"]
"""

HOLIDAY = """
[routing]
default_pool = "closed"
[routing.calendars.today]
holidays = ["{today}"]

[pools.closed]
heartbeat_grace_s = 3600
[pools.closed.business_hours]
timezone = "UTC"
calendars = {calendars}
mon = ["00:00-24:00"]
tue = ["00:00-24:00"]
wed = ["00:00-24:00"]
thu = ["00:00-24:00"]
fri = ["00:00-24:00"]
sat = ["00:00-24:00"]
sun = ["00:00-24:00"]

[agents.cat]
pool = "closed"
auto_accept = true
"""


async def _assigned(settings: Settings, count: int, timeout: float = 40
                    ) -> list[AssignmentEvent]:
    records = await consume(settings.kafka_bootstrap,
                            settings.topic("omniroute.assignments.v1"), count, timeout=timeout,
                            where=lambda r: b'"assigned"' in r.value)
    return [AssignmentEvent.from_json_bytes(r.value) for r in records]


async def test_queues_share_capacity_and_targets_time_out_in_order(
        topics: Settings, tmp_path: Path) -> None:
    """ann (tier1 and tier2, capacity 1) takes the first conversation; the second waits
    in tier1 although ann is in tier2 too (one capacity) and bob (tier2 only) is idle,
    then after tier1's 2 s goes to tier2, where bob takes it."""
    settings = topics
    (tmp_path / "routing.toml").write_text(CONFIG)
    boot = settings.kafka_bootstrap
    async with Router(settings, tmp_path / "routing.toml"):
        await produce(boot, settings.topic("omniroute.agent-events.v1"), [
            agent_event(1, "ann", "presence", presence="available"),
            agent_event(2, "bob", "presence", presence="available")])
        await produce(boot, settings.topic("omniroute.internal.routing-requests"),
                      [request(1)])
        first = await _assigned(settings, 1)
        await produce(boot, settings.topic("omniroute.internal.routing-requests"),
                      [request(2)])
        both = await _assigned(settings, 2)
    assert [(e.conversation_id, e.agent_id) for e in first] == [("conv-1", "ann")]
    second = both[1]
    assert (second.conversation_id, second.agent_id) == ("conv-2", "bob")
    assert second.decision is not None
    assert second.decision.inputs["target"] == 1
    assert second.decision.inputs["needs"] == {"queue:tier2": 0}
    waited = (second.occurred_at - first[0].occurred_at).total_seconds()
    assert waited >= 2.0  # tier1's timeout ran out first


async def test_holiday_closes_the_pool_until_a_live_change_lifts_it(
        topics: Settings, tmp_path: Path) -> None:
    """Today is a holiday in the pool's calendar: an available agent gets nothing; a new
    configuration version without the calendar opens the pool and the backlog drains."""
    settings = topics
    today = datetime.now(UTC).date().isoformat()
    (tmp_path / "routing.toml").write_text(HOLIDAY.format(today=today, calendars='["today"]'))
    boot = settings.kafka_bootstrap
    async with Router(settings, tmp_path / "routing.toml"):
        await produce(boot, settings.topic("omniroute.agent-events.v1"), [
            agent_event(1, "cat", "presence", presence="available")])
        await produce(boot, settings.topic("omniroute.internal.routing-requests"),
                      [request(1)])
        assert await _assigned(settings, 1, timeout=4) == []
        (tmp_path / "open.toml").write_text(HOLIDAY.format(today=today, calendars="[]"))
        opened = load_config(tmp_path / "open.toml")
        assert "holidays" not in opened.pool_document("closed")["policy"]["business_hours"]
        await publish_config(settings, opened, actor="test", reason="holiday lifted")
        found = await _assigned(settings, 1)
    assert [(e.conversation_id, e.agent_id) for e in found] == [("conv-1", "cat")]
