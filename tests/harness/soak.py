"""The soak-and-fault scenario: signed webhooks in, processes killed, the public outputs audited.

Used by ``tests/e2e/soak`` (short form) and ``bench/soak/soak.py`` (long form).
A fresh topic namespace with the default partition count and a fresh
database stand for a freshly initialized stack; its processes run as a
:class:`~harness.fleet.Fleet` so any of them can be SIGKILLed mid-run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.cli import omniroute_env, run_omniroute
from harness.fleet import Fleet
from harness.kafka import produce
from harness.ports import free_port
from omniroute.contract import AgentEvent
from omniroute.infra.topics import create_topics
from omniroute.loadgen.audit import Findings, audit
from omniroute.loadgen.senders import Delivery, deliver
from omniroute.loadgen.traffic import Secrets, plan, signed_request
from omniroute.settings import Settings

SECRETS = Secrets(twilio_auth_token="soak-twilio-token", meta_app_secret="soak-meta-secret",
                  telegram_secret_token="soak-telegram-secret",
                  line_channel_secret="soak-line-secret")
AGENTS = tuple(f"agent{i}" for i in range(8))
HEARTBEAT_SECONDS = 5.0


@dataclass(frozen=True)
class Scenario:
    """How much traffic, how many processes of each kind, and what to kill when."""

    customers: int = 200
    messages: int = 500
    senders: int = 3
    rate: float = 20.0
    replicas: int = 1
    kills: tuple[str, ...] = ("worker-1", "router-1", "sink-1", "ingress")
    """Killed in order, evenly spread over the run (at 20 %, 40 %, ... of the messages)."""
    settle_seconds: float = 240.0
    engine: str = "batch"
    """``OMNIROUTE_WORKER_ENGINE`` of the workers (faust, or the batch engine)."""


@dataclass
class Outcome:
    """What the run measured."""

    findings: Findings
    delivery: Delivery
    killed: list[str] = field(default_factory=list)
    settle_seconds: float = 0.0
    gateway_problems: list[str] = field(default_factory=list)


def routing_file(path: Path) -> Path:
    """One pool; eight auto-accepting agents with room for every conversation of a run."""
    agents = "".join(f'\n[agents.{a}]\npool = "support"\ncapacity = 100\nauto_accept = true\n'
                     for a in AGENTS)
    path.write_text('[routing]\ndefault_pool = "support"\n\n[pools.support]\n'
                    'selection = "least_occupied"\nheartbeat_grace_s = 60\n' + agents)
    return path


def stack_environment(kafka_bootstrap: str, namespace: str, database_url: str,
                      state: Path) -> dict[str, str]:
    """Every setting the fleet's processes share."""
    ingress = free_port()
    return omniroute_env(
        OMNIROUTE_KAFKA_BOOTSTRAP=kafka_bootstrap, OMNIROUTE_TOPIC_NAMESPACE=namespace,
        OMNIROUTE_DATABASE_URL=database_url, OMNIROUTE_STATE_DIR=str(state),
        OMNIROUTE_LOG_FORMAT="json", OMNIROUTE_INGRESS_PORT=str(ingress),
        OMNIROUTE_GATEWAY_PORT=str(free_port()), OMNIROUTE_SMTP_PORT=str(free_port()),
        OMNIROUTE_PUBLIC_BASE_URL=f"http://127.0.0.1:{ingress}",
        OMNIROUTE_ROUTING_CONFIG=str(routing_file(state / "routing.toml")),
        OMNIROUTE_TWILIO_AUTH_TOKEN=SECRETS.twilio_auth_token,
        OMNIROUTE_META_APP_SECRET=SECRETS.meta_app_secret,
        OMNIROUTE_TELEGRAM_SECRET_TOKEN=SECRETS.telegram_secret_token,
        OMNIROUTE_LINE_CHANNEL_SECRET=SECRETS.line_channel_secret,
    )


def start_fleet(fleet: Fleet, replicas: int) -> None:
    """Workers, routers and sinks (``replicas`` of each), one ingress, one gateway."""
    for i in range(1, replicas + 1):
        fleet.start(f"worker-{i}", "worker")
        fleet.start(f"router-{i}", "router", "run", "--instance", f"r{i}")
        fleet.start(f"sink-{i}", "sink")
    fleet.start("ingress", "ingress")
    fleet.start("gateway", "gateway")


def wait_http(url: str, fleet: Fleet, timeout: float = 120.0) -> None:
    """Until ``url`` answers 200."""
    deadline = time.monotonic() + timeout
    while True:
        fleet.assert_running()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer in {timeout:.0f}s")
        time.sleep(0.3)


async def keep_agents_available(bootstrap: str, topic: str, stop: asyncio.Event) -> None:
    """Every agent available, then a heartbeat each per interval (as agent apps do)."""
    n = 0
    while not stop.is_set():
        kind = "presence" if n == 0 else "heartbeat"
        events = [AgentEvent(event_id=f"{a}-{kind}-{n}", agent_id=a, kind=kind,
                             presence="available" if n == 0 else None, pool="support")
                  for a in AGENTS]
        await produce(bootstrap, topic, [(e.agent_id.encode(), e.to_json_bytes()) for e in events])
        n += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEARTBEAT_SECONDS)


async def chaos(fleet: Fleet, scenario: Scenario, delivery_progress: Callable[[], int],
                killed: list[str]) -> None:
    """SIGKILL each process of ``scenario.kills`` at its share of the run; restart it."""
    for n, name in enumerate(scenario.kills, start=1):
        threshold = scenario.messages * n / (len(scenario.kills) + 1)
        while delivery_progress() < threshold:  # noqa: ASYNC110 (progress is a plain count)
            await asyncio.sleep(0.1)
        fleet.kill(name)
        killed.append(name)
        await asyncio.sleep(2.0 if name == "ingress" else 1.0)
        fleet.restart(name)


async def gateway_view(env: dict[str, str], gateway: str, database_url: str) -> dict[str, set[str]]:
    """Per agent, the conversations the gateway says that agent holds (its own token)."""
    held: dict[str, set[str]] = {}
    for agent in AGENTS:
        issued = await asyncio.to_thread(run_omniroute, "agents", "token", agent, env=env)
        assert issued.returncode == 0, issued.stderr
        token = issued.stdout.strip().splitlines()[-1]
        request = urllib.request.Request(f"{gateway}/api/v1/conversations",
                                         headers={"Authorization": f"Bearer {token}"})
        body = await asyncio.to_thread(lambda r=request: urllib.request.urlopen(r, timeout=10).read())
        held[agent] = {c["conversation_id"] for c in json.loads(body)["conversations"]}
    return held


async def run(scenario: Scenario, *, kafka_bootstrap: str, namespace: str, database_url: str,
              state: Path, say: Callable[[str], None] = print) -> Outcome:
    """Run the scenario on a fresh namespace and database; audit the public outputs."""
    state.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, before anything runs)
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_namespace=namespace)
    await create_topics(settings)
    env = stack_environment(kafka_bootstrap, namespace, database_url, state)
    env["OMNIROUTE_WORKER_ENGINE"] = scenario.engine
    fleet = Fleet(env=env, logs=state)
    base = env["OMNIROUTE_PUBLIC_BASE_URL"]
    gateway = f"http://127.0.0.1:{env['OMNIROUTE_GATEWAY_PORT']}"
    people, messages = plan(scenario.customers, scenario.messages, run=namespace.strip("."))
    owner = {m.token: m.customer for m in messages}
    requests = [signed_request(m, people[m.customer], SECRETS, base) for m in messages]
    stop = asyncio.Event()
    killed: list[str] = []
    start_fleet(fleet, scenario.replicas)
    try:
        await asyncio.to_thread(wait_http, f"{base}/healthz", fleet)
        await asyncio.to_thread(wait_http, f"{gateway}/openapi.json", fleet)
        agents = asyncio.create_task(keep_agents_available(
            kafka_bootstrap, settings.topic("omniroute.agent-events.v1"), stop))
        progress = {"done": 0}

        def count(delivery: Delivery, total: int) -> None:
            progress["done"] = len(delivery.acknowledged) + len(delivery.refused)
            if progress["done"] % 100 == 0:
                say(f"soak: {progress['done']}/{total} webhooks answered")

        chaos_task = asyncio.create_task(chaos(fleet, scenario, lambda: progress["done"], killed))
        delivery = await deliver(base, requests, senders=scenario.senders, rate=scenario.rate,
                                 progress=count)
        await chaos_task
        say(f"soak: delivered in {delivery.seconds:.1f}s ({delivery.retries} retries); "
            f"killed {', '.join(killed)}; waiting for the pipeline to settle")
        settled = time.monotonic()
        acknowledged = set(delivery.acknowledged)
        findings = await audit(kafka_bootstrap, settings.topic, database_url, "default",
                               acknowledged, owner)
        while not findings.ok and time.monotonic() - settled < scenario.settle_seconds:
            fleet.assert_running()
            await asyncio.sleep(3.0)
            findings = await audit(kafka_bootstrap, settings.topic, database_url, "default",
                                   acknowledged, owner)
        outcome = Outcome(findings, delivery, killed, time.monotonic() - settled)
        say(f"soak: {findings.summary()} (settled in {outcome.settle_seconds:.1f}s)")
        if not findings.ok:  # what each process said last (the logs go with the temp dir)
            say(await asyncio.to_thread(log_tails, state))
        outcome.gateway_problems = await gateway_problems(env, gateway, database_url, findings,
                                                          kafka_bootstrap, settings, acknowledged,
                                                          owner)
        stop.set()
        await agents
        return outcome
    finally:
        stop.set()
        fleet.stop_all()


def log_tails(state: Path, lines: int = 25) -> str:
    """The last warnings and errors of every process log in ``state``."""
    out = []
    for log in sorted(state.glob("*.log")):
        text = log.read_text(errors="replace").splitlines()
        notable = [line[:400] for line in text if '"level": "info"' not in line][-lines:]
        out += [f"--- {log.name}: {len(text)} lines, the last warnings and errors:", *notable]
    return "\n".join(out)


async def gateway_problems(env: dict[str, str], gateway: str, database_url: str,
                           findings: Findings, bootstrap: str, settings: Settings,
                           acknowledged: set[str], owner: dict[str, int]) -> list[str]:
    """Where the gateway's per-agent view disagrees: a conversation held by two agents,
    or a count of held conversations unlike the audit's (waiting for the projection)."""
    deadline = time.monotonic() + 60.0
    problems: list[str] = []
    while True:
        held = await gateway_view(env, gateway, database_url)
        holders: dict[str, list[str]] = {}
        for agent, conversations in held.items():
            for conversation in conversations:
                holders.setdefault(conversation, []).append(agent)
        problems = [f"{c} held by {a}" for c, a in holders.items() if len(a) > 1]
        if len(holders) != findings.conversations:
            problems.append(f"gateway shows {len(holders)} held conversations, "
                            f"audit found {findings.conversations}")
        if not problems or time.monotonic() > deadline:
            return problems
        await asyncio.sleep(3.0)
