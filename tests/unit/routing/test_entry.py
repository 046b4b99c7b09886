"""Where a routing request enters the router: its pool's stream when the producer knows the
pool by the live configuration, else the router's repartition hop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from omniroute.routing import events as ev
from omniroute.routing.config import parse_config
from omniroute.routing.entry import Entry, request_of
from omniroute.routing.live import LiveConfig
from omniroute.routing.requests import RoutingRequest
from omniroute.routing.wire import to_core
from omniroute.worker.routes import ENTRY, send_request

pytestmark = pytest.mark.unit

CONFIG = parse_config({
    "routing": {"default_pool": "support",
                "rules": [{"skill": "billing", "pool": "billing"},
                          {"channel": "email", "intent": "refund", "pool": "refunds"}]},
    "pools": {"support": {}, "billing": {}, "refunds": {}}, "agents": {}})
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC).timestamp()


def request(**fields: object) -> RoutingRequest:
    fields = {"event_id": "rr-1", "kind": "route", "conversation_id": "conv-1",
              "customer_id": "cust-1", "channel": "webchat",
              "occurred_at": datetime.fromtimestamp(NOW - 2, UTC), **fields}
    return RoutingRequest.model_validate(fields)


def entry(version: int = 3, *, ready: bool = True, builtin_is_live: bool = True) -> Entry:
    live = LiveConfig(CONFIG, version)
    if ready:
        live.ready.set()
    return Entry(live, builtin_is_live=builtin_is_live)


class TestEntry:
    def test_a_request_goes_straight_to_the_pool_the_rules_choose(self) -> None:
        """Rules in order, then the default pool; the record is that pool's input, keyed by
        the pool, stamped with the request's own time, marked direct, the request kept."""
        asked = request(channel="email", intent="refund", language="ko",
                        skills={"english": 1})
        topic, key, value = entry().record(asked, NOW)
        assert (topic, key) == ("omniroute.internal.routing-pool-events", b"refunds")
        pool, event = to_core(value)
        assert pool == "refunds" and isinstance(event, ev.Route)
        assert (event.work_id, event.customer_id, event.channel, event.at, event.direct) == (
            "conv-1", "cust-1", "email", NOW - 2, True)
        assert request_of(topic, value) == asked
        assert entry().record(request(skills={"billing": 2}), NOW)[1] == b"billing"
        assert entry().record(request(), NOW)[1] == b"support"
        assert entry().record(request(pool="vip"), NOW)[1] == b"vip"  # chosen upstream

    def test_updates_and_cancels_go_to_the_same_pool(self) -> None:
        """The conversation's later requests meet its work in the pool that holds it."""
        for kind, core in (("update", ev.Update), ("cancel", ev.Cancel)):
            _, key, value = entry().record(request(kind=kind, event_id=f"rr-{kind}"), NOW)
            pool, event = to_core(value)
            assert isinstance(event, ev.WorkInput)
            assert (key, pool, type(event), event.direct) == (b"support", "support", core, True)

    @pytest.mark.parametrize("case", ["not read to its end", "file not imported yet",
                                      "no pool takes it"])
    def test_otherwise_the_router_chooses(self, case: str) -> None:
        """Until the configuration is read, while a file is still to be imported (version 0
        of a deployment with a file), and when nothing takes the request (the router parks
        it with the reason): the router's request topic, keyed by conversation."""
        asked = request()
        chosen = {"not read to its end": entry(ready=False),
                  "file not imported yet": entry(0, builtin_is_live=False),
                  "no pool takes it": Entry(_ready(LiveConfig(parse_config(
                      {"pools": {"a": {}, "b": {}}, "agents": {}}), 4)))}[case]
        topic, key, value = chosen.record(asked, NOW)
        assert (topic, key) == ("omniroute.internal.routing-requests", b"conv-1")
        assert request_of(topic, value) == asked

    def test_without_a_file_the_builtin_configuration_is_live(self) -> None:
        """Nothing published and no file: the built-in configuration is what routers use."""
        live = LiveConfig()
        live.ready.set()
        assert Entry(live).record(request(), NOW)[1] == b"default"

    def test_other_pool_inputs_carry_no_request(self) -> None:
        """Ticks, agents' events and forwarded work in the pool stream are not requests."""
        assert request_of("ns.omniroute.internal.routing-pool-events",
                          b'{"t":"tick","pool":"p","at":1.0,"id":"t1","body":{}}') is None


def _ready(live: LiveConfig) -> LiveConfig:
    live.ready.set()
    return live


class _Worker:
    """What send_request uses of a worker: its components and its send."""

    def __init__(self, entry: Entry) -> None:
        self.components = {ENTRY: entry}
        self.sent: list[tuple[str, str]] = []

    async def send(self, topic: str, key: str, value: bytes, channel: str | None) -> None:
        self.sent.append((topic, key))


class TestWorkerStartUp:
    async def test_the_first_requests_wait_for_the_configuration(self) -> None:
        """A request made while the configuration is still being read waits for it and then
        goes to its pool, like the requests after it: one path per conversation."""
        entry = Entry(LiveConfig(CONFIG, 2))
        worker = _Worker(entry)
        asyncio.get_running_loop().call_later(0.05, entry.live.ready.set)
        await send_request(worker, request())  # type: ignore[arg-type]
        await send_request(worker, request(kind="cancel", event_id="rr-2"))  # type: ignore[arg-type]
        assert worker.sent == [("omniroute.internal.routing-pool-events", "support")] * 2
