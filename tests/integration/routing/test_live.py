"""Routing out of the box and live configuration, through the real broker: the built-in
default pool, versions applied without restart, refusals answered, unroutable work parked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from harness.kafka import consume, produce
from omniroute.contract.agents import AgentEvent
from omniroute.contract.assignments import AssignmentEvent
from omniroute.contract.conversations import ConversationEvent
from omniroute.routing.config import BUILTIN, parse_config
from omniroute.routing.live import (
    ConfigVersion,
    LiveConfig,
    history,
    publish_config,
    read_config,
    reroute,
)
from omniroute.routing.processor import run_decide, run_repartition
from omniroute.routing.requests import RoutingRequest
from omniroute.settings import Settings

SALES = parse_config({
    "routing": {"rules": [{"channel": "email", "pool": "sales"}]},
    "pools": {"sales": {"heartbeat_grace_s": 3600}, "empty": {}},
    "agents": {"bob": {"pool": "sales", "capacity": 1, "auto_accept": True}}})


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[None]:
    """Both router loops, started with whatever configuration is live."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_repartition(settings, "live", stop)),
             asyncio.create_task(run_decide(settings, "live", stop, tick_interval=0.2))]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def agent(n: int, agent_id: str, kind: str, **fields: object) -> tuple[bytes, bytes]:
    event = AgentEvent(event_id=f"ae-{n}", agent_id=agent_id, kind=kind, **fields)
    return agent_id.encode(), event.to_json_bytes()


def route(n: int, channel: str = "webchat") -> RoutingRequest:
    return RoutingRequest(event_id=f"rr-{n}", kind="route", conversation_id=f"conv-{n}",
                          customer_id=f"cust-{n}", channel=channel)


async def answers(settings: Settings, count: int, **where: str) -> list[AssignmentEvent]:
    def matches(record: object) -> bool:
        event = AssignmentEvent.from_json_bytes(record.value)  # type: ignore[attr-defined]
        return all(getattr(event, k) == v for k, v in where.items())
    found = await consume(settings.kafka_bootstrap, settings.topic("omniroute.assignments.v1"),
                          count, timeout=40, where=matches)
    return [AssignmentEvent.from_json_bytes(r.value) for r in found]


async def test_out_of_the_box_any_agent_joins_the_default_pool(topics: Settings) -> None:
    """No configuration at all: an agent with no entry anywhere goes available and is
    offered the next conversation (the built-in ``default`` pool)."""
    settings = topics
    assert await read_config(settings) == (0, BUILTIN)
    async with running(settings):
        await produce(settings.kafka_bootstrap, settings.topic("omniroute.agent-events.v1"),
                      [agent(1, "ada", "presence", presence="available")])
        await produce(settings.kafka_bootstrap,
                      settings.topic("omniroute.internal.routing-requests"),
                      [(b"conv-1", route(1).to_json_bytes())])
        (offer,) = await answers(settings, 1, kind="offered")
    assert (offer.agent_id, offer.conversation_id, offer.pool) == ("ada", "conv-1", "default")


async def test_a_published_version_applies_without_restart_and_parks_what_it_cannot_route(
        topics: Settings) -> None:
    """A version published while the router runs is applied by it (new agent, new rule);
    a request no pool takes is parked with the reason, and routed again by a re-route
    once a version gives it a pool; a malformed agent event is answered ``rejected``."""
    settings = topics
    boot = settings.kafka_bootstrap
    requests = settings.topic("omniroute.internal.routing-requests")
    async with running(settings):
        version = await publish_config(settings, SALES, actor="ada", reason="sales team")
        assert version == 1
        await produce(boot, settings.topic("omniroute.agent-events.v1"), [
            agent(1, "bob", "presence", presence="available"),
            (b"eve", b'{"agent_id": "eve", "event_id": "bad-1", "kind": "presence"}')])
        await produce(boot, requests, [(b"conv-1", route(1, "email").to_json_bytes()),
                                       (b"conv-2", route(2, "sms").to_json_bytes())])
        (assigned,) = await answers(settings, 1, kind="assigned")
        (refused,) = await answers(settings, 1, kind="rejected")
        parked = await consume(boot, settings.topic("omniroute.conversations.v1"), 1,
                               timeout=40, where=lambda r: b'"parked"' in r.value)
        fixed = parse_config({**SALES.document(), "routing": {"default_pool": "sales"}})
        assert await publish_config(settings, fixed, actor="ada", reason="default") == 2
        await reroute(settings, route(2, "sms").model_copy(update={"event_id": "rr-2b"}))
        await produce(boot, settings.topic("omniroute.agent-events.v1"), [
            agent(2, "bob", "resolve", conversation_id="conv-1")])
        later = await answers(settings, 2, kind="assigned")
    assert (assigned.agent_id, assigned.conversation_id, assigned.pool) == (
        "bob", "conv-1", "sales")
    assert refused.agent_id == "eve" and "invalid agent event" in (refused.reason or "")
    event = ConversationEvent.from_json_bytes(parked[0].value)
    assert (event.conversation_id, event.kind.value) == ("conv-2", "parked")
    assert "no pool" in (event.reason or "")
    assert [e.conversation_id for e in later] == ["conv-1", "conv-2"]
    versions = await history(settings)
    assert [(v.version, v.actor, v.reason) for v in versions] == [
        (1, "ada", "sales team"), (2, "ada", "default")]
    assert versions[0].retired == ("default",)


async def test_catch_up_waits_for_a_version_published_a_moment_ago(topics: Settings) -> None:
    """What a router has read of the configuration after ``catch_up``: every version
    published before the call, though its follower reads them at its own pace."""
    settings = topics
    live, stop = LiveConfig(), asyncio.Event()
    follower = asyncio.create_task(live.follow(settings, stop))
    try:
        await asyncio.wait_for(live.ready.wait(), 30)
        assert live.version == 0
        for expected in (1, 2, 3):
            published = await publish_config(settings, SALES, actor="ada", reason=f"v{expected}")
            await live.catch_up(timeout=10)
            assert live.version == published == expected
        assert not await live.catch_up(timeout=10)  # nothing new: returns, changes nothing
    finally:
        stop.set()
        await follower
    assert not await LiveConfig().catch_up()  # no follower: nothing to wait for


class Lagging(LiveConfig):
    """A router process whose reads of the configuration lag behind its requests (the
    race of a re-route sent right after a save): versions after the first are applied
    only when the loop catches up."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[ConfigVersion] = []
        self.caught_up = 0

    def offer(self, candidate: ConfigVersion) -> bool:
        if candidate.version > 1:
            self.held.append(candidate)
            return False
        return super().offer(candidate)

    async def catch_up(self, timeout: float = 2.0) -> bool:
        self.caught_up += 1
        before = self.version
        for held in self.held:
            super().offer(held)
        return self.version != before


async def test_a_request_the_read_configuration_would_park_is_routed_by_a_newer_version(
        topics: Settings) -> None:
    """A supervisor saved a default pool and re-routed a parked conversation at once; the
    router read the re-route before the version. It reads on before parking, and routes
    it by the new version (the previous router parked it again)."""
    settings = topics
    boot = settings.kafka_bootstrap
    live, stop = Lagging(), asyncio.Event()
    assert await publish_config(settings, SALES, actor="ada", reason="sales team") == 1
    follower = asyncio.create_task(live.follow(settings, stop))
    await asyncio.wait_for(live.ready.wait(), 30)
    tasks = [asyncio.create_task(run_repartition(settings, "lag", stop, live=live)),
             asyncio.create_task(run_decide(settings, "lag", stop, tick_interval=0.2))]
    try:
        await produce(boot, settings.topic("omniroute.agent-events.v1"),
                      [agent(1, "bob", "presence", presence="available")])
        fixed = parse_config({**SALES.document(), "routing": {"default_pool": "sales"}})
        assert await publish_config(settings, fixed, actor="ada", reason="default") == 2
        await reroute(settings, route(7, "sms"))
        (assigned,) = await answers(settings, 1, kind="assigned")
        parked = await consume(boot, settings.topic("omniroute.conversations.v1"), 1,
                               timeout=2, where=lambda r: b'"parked"' in r.value)
    finally:
        stop.set()
        await asyncio.gather(follower, *tasks)
    assert (assigned.conversation_id, assigned.pool) == ("conv-7", "sales")
    assert parked == [] and live.caught_up == 1 and live.version == 2


async def test_a_restart_with_an_unchanged_file_keeps_what_was_changed_live(
        topics: Settings, tmp_path) -> None:
    """A user run: an admin added two agents live; the router, restarted after a crash
    with the same ``--config`` file, imported it again and removed them (their
    conversations revoked, "agent removed"). An unchanged file is imported once; a changed
    one is imported at the next start."""
    from omniroute.cli.router import import_file
    from omniroute.routing.config import load_config

    settings = topics
    path = tmp_path / "routing.toml"
    path.write_text('[pools.support]\n[agents.ada]\npool = "support"\n')
    first = await import_file(settings, load_config(path), path)
    _, live = await read_config(settings)
    added = parse_config({**live.document(), "agents": {
        **live.document()["agents"], "lg1": {"pool": "support"}}})
    edited = await publish_config(settings, added, actor="cli:root", reason="agent lg1 saved")
    assert await import_file(settings, load_config(path), path) == edited > first
    assert "lg1" in (await read_config(settings))[1].agents
    path.write_text('[pools.support]\n[agents.ada]\npool = "support"\n[agents.bo]\n'
                    'pool = "support"\n')
    imported = await import_file(settings, load_config(path), path)
    assert imported > edited
    assert sorted((await read_config(settings))[1].agents) == ["ada", "bo"]


async def test_a_file_replacing_live_changes_says_what_it_drops_and_rollback_restores(
        topics: Settings, tmp_path, capsys) -> None:
    """An edited file replaces what an admin changed live since its import (the file is
    the operator's latest word), but says so: which agents and pools it adds, removes and
    changes, and the rollback that restores the live version; ``omniroute router rollback``
    publishes that version again, as a new one, with its reason in the history."""
    from harness.cli import omniroute_env, run_omniroute
    from omniroute.cli.router import import_file
    from omniroute.routing.config import load_config

    settings = topics
    path = tmp_path / "routing.toml"
    path.write_text('[pools.support]\n[agents.ada]\npool = "support"\ncapacity = 2\n')
    await import_file(settings, load_config(path), path)
    _, live = await read_config(settings)
    document = live.document()
    by_admin = parse_config({**document, "agents": {
        "ada": {**document["agents"]["ada"], "capacity": 3}, "kai": {"pool": "support"}}})
    live_version = await publish_config(settings, by_admin, actor="admin:root",
                                        reason="agent kai saved")
    capsys.readouterr()
    path.write_text('[pools.support]\n[agents.ada]\npool = "support"\ncapacity = 2\n'
                    '[agents.bo]\npool = "support"\n')
    await import_file(settings, load_config(path), path)
    said = capsys.readouterr().err
    assert (f"it replaces the live v{live_version} (changed since by admin:root): "
            "agents added: bo; agents removed: kai; agents changed: ada. "
            f"`omniroute router rollback {live_version}` restores v{live_version}") in said
    assert sorted((await read_config(settings))[1].agents) == ["ada", "bo"]

    env = omniroute_env(OMNIROUTE_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
                        OMNIROUTE_TOPIC_NAMESPACE=settings.topic_namespace)
    done = run_omniroute("router", "rollback", str(live_version), "--actor", "sue",
                         "--reason", "kai is on shift", env=env)
    assert done.returncode == 0, done.stderr
    assert "agents added: kai; agents removed: bo; agents changed: ada" in done.stderr
    restored = (await history(settings))[-1]
    assert (restored.actor, restored.reason) == ("sue", f"rollback to v{live_version}: kai is "
                                                 "on shift")
    assert restored.config.document() == by_admin.document()
    missing = run_omniroute("router", "rollback", "999", env=env)
    assert missing.returncode != 0
    assert "no routing configuration version 999 to restore" in missing.stderr
