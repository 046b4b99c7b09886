"""The answer bot and automation follow the live routing configuration, not only the file.

A pool's business hours changed through the admin API (a new live version) must change
whether the bot takes a conversation and what automation says, without a worker restart.
Driven with the worker's live configuration (its routing entry) replaced by a given one.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omniroute.automation.processor import AutomationHook
from omniroute.bot import records
from omniroute.bot.policy import load_bot_policy
from omniroute.conversations.threading import Outcome
from omniroute.routing.config import load_config, parse_config
from omniroute.routing.entry import Entry
from omniroute.routing.live import LiveConfig
from omniroute.routing.requests import RoutingRequest, RoutingRequestKind
from omniroute.settings import Settings
from omniroute.worker import bot as bot_module
from omniroute.worker.bot import BotProcessor
from omniroute.worker.routes import ENTRY

MONDAY_3AM = datetime(2026, 12, 7, 3, tzinfo=UTC)
FILE = """
[routing]
default_pool = "support"

[pools.support]

[bot]
channels = ["whatsapp"]
hours = "closed"
"""
NIGHTS_ONLY = {"routing": {"default_pool": "support"}, "pools": {"support": {
    "business_hours": {"timezone": "UTC", "mon": ["00:00-06:00"]}}}}


class _Worker:
    """What the bot's processor and the automation hook use of a worker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.components: dict[str, Any] = {}

    def model_table(self, name: str, model: type) -> dict[str, Any]:
        return {}


def test_the_live_version_decides_pools_hours(tmp_path: Path) -> None:
    """The file keeps support open all the time (the bot, on "closed" hours, never takes
    it; automation sees no business hours). Once a live version opens support only at night,
    both see it at once: at 03:00 support is open, so the bot does not take it either, and
    at 09:00 it is closed and the bot takes it."""
    path = tmp_path / "routing.toml"
    path.write_text(FILE)
    worker = _Worker(Settings(routing_config=path))
    bot = BotProcessor(worker, load_bot_policy(path))  # type: ignore[arg-type]
    automation = AutomationHook(worker)  # type: ignore[arg-type]
    nine_am = MONDAY_3AM.replace(hour=9)
    assert not bot.policy.answers("whatsapp", "support", nine_am)  # always open: no bot
    assert automation.pool_hours("support") is None

    entry = Entry(LiveConfig(load_config(path), 1))  # the file, published at the router's start
    worker.components[ENTRY] = entry
    assert not bot.policy.answers("whatsapp", "support", nine_am)
    entry.live.config, entry.live.version = parse_config(NIGHTS_ONLY), 2  # an admin's change

    assert bot.policy.answers("whatsapp", "support", nine_am)  # closed at 09:00: the bot
    assert not bot.policy.answers("whatsapp", "support", MONDAY_3AM)
    hours = automation.pool_hours("support")
    assert hours is not None and hours.is_open(MONDAY_3AM.timestamp())
    assert not hours.is_open(nine_am.timestamp())
    assert bot.policy.threshold == load_bot_policy(path).threshold  # [bot] still the file's


def test_without_a_routing_file_automation_routes_as_the_built_in_configuration() -> None:
    """The quick start runs no routing file: the routers use the built-in configuration (a
    `default` pool) until a version is published, and automation now does too. It used an
    empty configuration, so every `triaged` event named no pool: the board showed waiting
    work under "(no pool)", and SLA policies naming `default` never applied (a user run)."""
    worker = _Worker(Settings())
    automation = AutomationHook(worker)  # type: ignore[arg-type]
    assert automation.routing.choose_pool("sms", "refund", "en", {}) == "default"
    worker.components[ENTRY] = Entry(builtin_is_live=True)  # version 0: nothing published
    assert automation.routing.choose_pool("line", None, None, {}) == "default"
    published = parse_config(NIGHTS_ONLY)
    worker.components[ENTRY] = Entry(LiveConfig(published, 1), builtin_is_live=True)
    assert automation.routing is published  # the live version once there is one


class _Sending(_Worker):
    """A worker that records what it sends, topic by topic."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.sent: list[str] = []

    async def send(self, topic: str, key: str, value: bytes, label: str | None = None) -> None:
        self.sent.append(topic)


async def test_the_gate_takes_the_bot_s_hop_only_while_it_is_on(monkeypatch: Any) -> None:
    """Started without a routing file (the quick start), the workers run the gate anyway:
    requests go straight to the router while the bot is off, through its inbox once an
    admin switches it on live, and for SWITCH_OFF_GRACE_S after it is switched off (a user
    run's `omniroute admin bot --on` published a version no worker acted on)."""
    worker = _Sending(Settings())
    bot = BotProcessor(worker, load_bot_policy(None))  # type: ignore[arg-type]
    gate = bot_module.BotGate(worker, bot)  # type: ignore[arg-type]
    entry = Entry(LiveConfig(parse_config({"routing": {"default_pool": "support"},
                                           "pools": {"support": {}}}), 1))
    entry.live.ready.set()
    worker.components[ENTRY] = entry
    request = RoutingRequest(kind=RoutingRequestKind.ROUTE, conversation_id="cnv_1",
                             customer_id="cus_1", workspace="default", channel="whatsapp",
                             occurred_at=MONDAY_3AM, event_id="evt_1")
    outcome = Outcome(state=None, events=[], requests=[request])  # type: ignore[arg-type]
    clock = [1000.0]
    monkeypatch.setattr(bot_module.time, "monotonic", lambda: clock[0])

    await gate.forward(object(), outcome)
    assert records.TOPIC not in worker.sent and len(worker.sent) == 1  # off: the router's

    entry.live.config = parse_config({"routing": {"default_pool": "support"},
                                      "pools": {"support": {}}, "bot": {"enabled": True}})
    entry.live.version = 2
    await gate.forward(object(), outcome)
    assert worker.sent[-1] == records.TOPIC  # on: through the inbox

    entry.live.config = parse_config({"routing": {"default_pool": "support"},
                                      "pools": {"support": {}}, "bot": {"enabled": False}})
    entry.live.version = 3
    clock[0] += bot_module.SWITCH_OFF_GRACE_S - 1
    await gate.forward(object(), outcome)
    assert worker.sent[-1] == records.TOPIC  # just off: still through it (handoffs first)
    clock[0] += 2
    await gate.forward(object(), outcome)
    assert worker.sent[-1] != records.TOPIC  # then straight to the router again


async def test_at_start_up_the_gate_waits_for_the_live_version() -> None:
    """A worker started without a `[bot]` table decides a request's path only once it has
    read the live configuration: its first requests went straight to the router while the
    live version had the bot on, and the bot never saw those conversations."""
    worker = _Sending(Settings())
    bot = BotProcessor(worker, load_bot_policy(None))  # type: ignore[arg-type]
    gate = bot_module.BotGate(worker, bot)  # type: ignore[arg-type]
    entry = Entry(LiveConfig())
    worker.components[ENTRY] = entry
    request = RoutingRequest(kind=RoutingRequestKind.ROUTE, conversation_id="cnv_1",
                             customer_id="cus_1", workspace="default", channel="whatsapp",
                             occurred_at=MONDAY_3AM, event_id="evt_1")
    forwarding = asyncio.create_task(gate.forward(object(), Outcome(
        state=None, events=[], requests=[request])))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert worker.sent == []  # waiting for the configuration
    entry.live.config = parse_config({"routing": {"default_pool": "support"},
                                      "pools": {"support": {}}, "bot": {"enabled": True}})
    entry.live.version = 1
    entry.live.ready.set()
    await forwarding
    assert worker.sent == [records.TOPIC]
