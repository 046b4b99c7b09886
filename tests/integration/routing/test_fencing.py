"""A zombie router is fenced: paused past its session time-out while a second replica
takes its partitions, then resumed, it publishes nothing (issue 18, restart and fencing).

Router A (``--instance a``) owns everything and decides; it is frozen with SIGSTOP; router
B (``--instance b``) joins, gets every partition once A's session times out, and decides
the requests sent meanwhile. A is resumed with SIGCONT while requests keep coming. A wakes
up believing it still owns its pools: its decide loop writes a tick at once (it ticks every
0.2 s; B only once a minute) and may decide inputs B already decided. Every such
transaction must be refused (its transactional id is the partition's, which B's producer
re-initialised), so the committed pool stream holds no tick A wrote after it woke up
(until A is legitimately given a partition again), and the public assignments topic
(read_committed) assigns each conversation exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from harness.kafka import consume, produce
from harness.ports import free_port
from omniroute.contract.agents import AgentEvent
from omniroute.contract.assignments import AssignmentEvent
from omniroute.routing.requests import RoutingRequest
from omniroute.settings import Settings

AGENTS = [f"z{i}" for i in range(4)]
CONFIG = ('[pools.solo]\noffer_timeout_s = 3600\nheartbeat_grace_s = 3600\n'
          + "".join(f'[agents.{a}]\npool = "solo"\ncapacity = 50\nauto_accept = true\n'
                    for a in AGENTS))


def start(settings: Settings, config: Path, tmp: Path, name: str,
          tick: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, OMNIROUTE_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
               OMNIROUTE_TOPIC_NAMESPACE=settings.topic_namespace,
               OMNIROUTE_METRICS_PORT=str(free_port()), OMNIROUTE_LOG_FORMAT="json",
               OMNIROUTE_STATE_DIR=str(tmp / name))
    log = (tmp / f"{name}.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "omniroute", "router", "run", "--config",
                             str(config), "--instance", name, "--tick", tick],
                            env=env, stdout=log, stderr=log)


def request(n: int) -> tuple[bytes, bytes]:
    req = RoutingRequest(event_id=f"fz-{n}", kind="route", conversation_id=f"c{n}",
                         customer_id=f"u{n}", channel="webchat", pool="solo")
    return req.conversation_id.encode(), req.to_json_bytes()


def log_events(path: Path, event: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()
            if f'"{event}"' in line]


def at(entry: dict[str, object]) -> float:
    return datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00")).timestamp()


async def assigned(settings: Settings, count: int, timeout: float) -> list[AssignmentEvent]:
    found = await consume(settings.kafka_bootstrap, settings.topic("omniroute.assignments.v1"),
                          count, timeout=timeout)
    return [AssignmentEvent.from_json_bytes(r.value) for r in found]


async def test_a_resumed_zombie_publishes_nothing(topics: Settings, tmp_path: Path) -> None:
    settings = topics
    config = tmp_path / "routing.toml"
    config.write_text(CONFIG)
    boot = settings.kafka_bootstrap
    requests_topic = settings.topic("omniroute.internal.routing-requests")
    a = start(settings, config, tmp_path, "a", "0.2")
    b: subprocess.Popen[bytes] | None = None
    try:
        await produce(boot, settings.topic("omniroute.agent-events.v1"), [
            (x.encode(), AgentEvent(event_id=f"login-{x}", agent_id=x, kind="presence",
                                    presence="available").to_json_bytes()) for x in AGENTS])
        await produce(boot, requests_topic, [request(0)])
        assert len(await assigned(settings, 1, 60)) == 1  # A decides
        a.send_signal(signal.SIGSTOP)
        b = start(settings, config, tmp_path, "b", "60")
        await produce(boot, requests_topic, [request(1)])
        # B takes over once A's session times out (10 s), then decides request 1
        assert len(await assigned(settings, 2, 90)) == 2
        resumed = time.time()
        a.send_signal(signal.SIGCONT)
        for n in range(2, 12):
            await produce(boot, requests_topic, [request(n)])
            await asyncio.sleep(0.3)
        await asyncio.sleep(3)
        a.send_signal(signal.SIGKILL)
        a.wait()
        events = await assigned(settings, 12, 30)
        await asyncio.sleep(1)
        events = await assigned(settings, len(events) + 1, 3)
    finally:
        for process in (a, b):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
    # each conversation assigned exactly once, no decision published twice
    per_conversation = Counter(e.conversation_id for e in events if e.kind == "assigned")
    assert per_conversation == Counter({f"c{n}": 1 for n in range(12)}), per_conversation
    ids = Counter(e.event_id for e in events)
    assert all(n == 1 for n in ids.values()), ids
    # A's own partitions after it woke up: a legitimate new assignment restores them first
    regained = [at(e) for e in log_events(tmp_path / "a.log", "router.partition_ready")
                if at(e) > resumed and e.get("loop") == "decide"]
    # (a tick of the regained partition may carry a time taken just before it was ready)
    until = min(regained, default=float("inf")) - 0.5
    stream = await consume(boot, settings.topic("omniroute.internal.routing-pool-events"),
                           10_000, timeout=5)
    ticks = [json.loads(r.value) for r in stream if json.loads(r.value)["t"] == "tick"]
    zombie = [t for t in ticks if resumed <= t["at"] < until]
    assert zombie == [], f"ticks committed by the resumed zombie: {zombie}"
    fenced = log_events(tmp_path / "a.log", "router.fenced")
    assert fenced, "the zombie never learned it was fenced"
