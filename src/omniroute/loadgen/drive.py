"""``omniroute loadgen``: drive a running stack at a steady rate, then report what it did.

Customers (a quarter on both SMS and WhatsApp with one phone, the rest on
SMS, WhatsApp, Telegram or LINE) send signed provider webhooks to the ingress
at ``rate`` messages/s for ``minutes``; simulated agents (:mod:`.agents`)
accept, reply and resolve through the agent gateway. A progress line every
few seconds; at the end the report: per-stage throughput (records each topic
gained, rows history gained), latency percentiles (webhook answer, answer →
threaded, routing request → offer/assignment, agent reply), and the consumer
groups' lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import asyncpg

from omniroute.errors import ConfigurationError
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.infra.postgres import connect, resolve_database_url
from omniroute.loadgen.agents import Agent, Work
from omniroute.loadgen.observe import Observer, percentiles
from omniroute.loadgen.senders import Delivery, _until_answered
from omniroute.loadgen.traffic import Request, Secrets, plan, signed_request
from omniroute.monitoring.lag import LagProbe, PartitionLag
from omniroute.settings import Settings

STAGE_TOPICS = (
    ("ingress", "omniroute.inbound.v1"),
    ("worker: identity", "omniroute.internal.customers"),
    ("worker: conversations", "omniroute.conversations.v1"),
    ("worker: requests, pool not known", "omniroute.internal.routing-requests"),
    ("worker + router: pool streams", "omniroute.internal.routing-pool-events"),
    ("router: assignments", "omniroute.assignments.v1"),
    ("gateway: replies", "omniroute.outbound.v1"),
)


@dataclass(frozen=True)
class Load:
    """How much load, for how long, and who works it."""

    minutes: float = 5.0
    rate: float = 10.0
    customers: int = 500
    agents: tuple[str, ...] = tuple(f"agent{i}" for i in range(8))
    handle_seconds: float = 8.0
    progress_seconds: float = 10.0


@dataclass
class Report:
    """The figures of one run."""

    seconds: float = 0.0
    delivery: Delivery = field(default_factory=Delivery)
    answer_seconds: list[float] = field(default_factory=list)
    threaded_seconds: list[float] = field(default_factory=list)
    router_seconds: list[float] = field(default_factory=list)
    work: Work = field(default_factory=Work)
    resolved: int = 0
    throughput: dict[str, float] = field(default_factory=dict)
    lag: dict[str, tuple[int, float]] = field(default_factory=dict)
    """group → (messages behind, seconds behind), the worst partition of each."""
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    """stage → p50, p99 and the share over 500 ms of omniroute_processing_seconds over the run
    (from the stack's Prometheus, when it answers)."""

    def lines(self) -> list[str]:
        """The report as text."""
        sent = len(self.delivery.acknowledged)
        out = [f"load: {sent} messages acknowledged in {self.seconds:.0f} s "
               f"({sent / max(self.seconds, 1e-9):.1f}/s), {len(self.delivery.refused)} refused, "
               f"{self.delivery.retries} retries; agents accepted {self.work.accepted}, replied "
               f"{self.work.replied}, resolved {self.work.resolved} ({self.work.errors} "
               f"gateway errors); {self.resolved} resolved events",
               "throughput (records/s over the run):"]
        out += [f"  {stage:<28} {rate:8.1f}" for stage, rate in self.throughput.items()]
        out.append("latency (seconds):        count     p50     p95     p99     max")
        for name, values in (("webhook answered", self.answer_seconds),
                             ("answered -> threaded", self.threaded_seconds),
                             ("routing request -> offer", self.router_seconds),
                             ("held -> agent reply", self.work.reply_seconds)):
            p = percentiles(values)
            out.append(f"  {name:<24} {len(values):5d} " + " ".join(
                _figure(p.get(k), "7.3f") for k in ("p50", "p95", "p99", "max")))
        if self.stages:
            out.append("per-record stage time from Prometheus (omniroute_processing_seconds):")
            out += [f"  {stage:<24} p50 {_figure(v.get('p50'), '7.3f')}  "
                    f"p99 {_figure(v.get('p99'), '7.3f')}  over 500 ms "
                    f"{_figure(v.get('slow'), '6.2%')}" for stage, v in sorted(self.stages.items())]
        out.append("consumer lag at the end (worst partition per group):")
        out += [f"  {group:<52} {messages:6d} msgs {seconds:7.1f} s"
                for group, (messages, seconds) in sorted(self.lag.items())]
        return out


def _figure(value: float | None, spec: str) -> str:
    """A figure of the report, or a dash where nothing was measured (a stage with no
    records: Prometheus answers NaN; a user run's report printed "nan")."""
    width = int(spec.split(".")[0])
    if value is None or not math.isfinite(value):
        return "—".rjust(width)
    return format(value, spec)


def secrets_of(settings: Settings) -> Secrets:
    """The provider secrets the stack verifies webhooks with (from the same settings)."""
    values = {}
    for name in ("twilio_auth_token", "meta_app_secret", "telegram_secret_token",
                 "line_channel_secret"):
        secret = getattr(settings, name)
        if secret is None:
            raise ConfigurationError(f"OMNIROUTE_{name.upper()} is not set: the ingress would "
                                     "refuse the load generator's webhooks (give it the "
                                     "stack's provider secrets)")
        values[name] = secret.get_secret_value()
    return Secrets(**values)


async def tokens(settings: Settings, agents: tuple[str, ...]) -> dict[str, str]:
    """A fresh gateway token for each simulated agent."""
    conn: asyncpg.Connection = await connect(resolve_database_url(settings))
    try:
        return {a: await create_token(conn, a, Role.AGENT) for a in agents}
    finally:
        await conn.close()


async def history_rows(settings: Settings) -> int:
    """Messages history holds now."""
    conn: asyncpg.Connection = await connect(resolve_database_url(settings))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM messages"))
    finally:
        await conn.close()


async def drive(settings: Settings, load: Load, say: Callable[[str], None] = print) -> Report:
    """Run the load against the stack ``settings`` describe; return the report."""
    ingress = settings.public_base_url or f"http://127.0.0.1:{settings.ingress_port}"
    gateway = f"http://127.0.0.1:{settings.gateway_port}"
    total = max(1, round(load.rate * load.minutes * 60))
    people, messages = plan(min(load.customers, total), total, run=f"lg{uuid.uuid4().hex[:8]}")
    secrets = secrets_of(settings)
    requests = [signed_request(m, people[m.customer], secrets, ingress) for m in messages]
    probe = LagProbe(settings.kafka_bootstrap, settings.topic_namespace)
    observer = Observer(settings.kafka_bootstrap, settings.topic)
    await probe.start()
    await observer.start()
    report = Report()
    stop = asyncio.Event()
    agents = [Agent(a, t, report.work, load.handle_seconds)
              for a, t in (await tokens(settings, load.agents)).items()]
    before, rows_before = await probe.end_offsets(), await history_rows(settings)
    sent_at: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            watching = asyncio.create_task(observer.run(stop))
            working = [asyncio.create_task(a.run(session, gateway, stop)) for a in agents]
            started = time.time()
            progress = asyncio.create_task(_progress(report, observer, started, total, load,
                                                     say, stop))
            sends = []
            for n, request in enumerate(requests):
                await asyncio.sleep(max(0.0, started + n / load.rate - time.time()))
                sent_at[request.message.token] = time.time()
                sends.append(asyncio.create_task(
                    _send(session, ingress, request, report, sent_at)))
            await asyncio.gather(*sends)
            report.seconds = time.time() - started
            await asyncio.sleep(load.handle_seconds + 5)  # let the last ones flow through
            stop.set()
            await asyncio.gather(watching, progress, *working)
        after, rows_after = await probe.end_offsets(), await history_rows(settings)
        report.lag = _worst_lag(await probe.measure())
        report.stages = await stage_times(f"http://127.0.0.1:{settings.prometheus_port}",
                                          report.seconds + load.handle_seconds + 5)
    finally:
        stop.set()
        await observer.stop()
        await probe.stop()
    seen = observer.seen
    acked = report.delivery.acknowledged
    report.threaded_seconds = [seen.threaded[t] - acked[t] for t in acked if t in seen.threaded]
    report.router_seconds = list(seen.router_latencies)
    report.resolved = seen.resolved
    for stage, topic in STAGE_TOPICS:
        name = settings.topic(topic)
        report.throughput[stage] = (after.get(name, 0) - before.get(name, 0)) / report.seconds
    report.throughput["sink: history rows"] = (rows_after - rows_before) / report.seconds
    return report


STAGE_QUERIES = {
    "p50": "histogram_quantile(0.5, sum by (le, stage) "
           "(rate(omniroute_processing_seconds_bucket[{w}s])))",
    "p99": "histogram_quantile(0.99, sum by (le, stage) "
           "(rate(omniroute_processing_seconds_bucket[{w}s])))",
    # a process restarted during the run resets its counters; rate() extrapolates the
    # bucket and the count separately, and their ratio then strayed above 1 (a user run
    # printed "over 500 ms -5.21%" for the sink killed mid-run): a share is kept in [0, 1]
    "slow": "clamp(1 - sum by (stage) (rate(omniroute_processing_seconds_bucket{{le=\"0.5\"}}"
            "[{w}s])) / sum by (stage) (rate(omniroute_processing_seconds_count[{w}s])), 0, 1)",
}


async def stage_times(prometheus: str, window: float) -> dict[str, dict[str, float]]:
    """Per stage, p50/p99/share over 500 ms over the last ``window`` seconds; {} if no answer."""
    found: dict[str, dict[str, float]] = defaultdict(dict)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            for name, query in STAGE_QUERIES.items():
                async with session.get(f"{prometheus}/api/v1/query",
                                       params={"query": query.format(w=int(window))}) as r:
                    body = await r.json()
                for sample in body.get("data", {}).get("result", []):
                    found[sample["metric"].get("stage", "?")][name] = float(sample["value"][1])
    except (OSError, aiohttp.ClientError, TimeoutError, ValueError):
        return {}
    return {stage: v for stage, v in found.items() if len(v) == len(STAGE_QUERIES)}


async def _send(session: aiohttp.ClientSession, base: str, request: Request, report: Report,
                sent_at: dict[str, float]) -> None:
    delivery = report.delivery
    await _until_answered(session, base, request, delivery, 120.0)
    token = request.message.token
    if token in delivery.acknowledged:
        delivery.acknowledged[token] = time.time()  # wall clock, like the broker's timestamps
        report.answer_seconds.append(delivery.acknowledged[token] - sent_at[token])


async def _progress(report: Report, observer: Observer, started: float, total: int, load: Load,
                    say: Callable[[str], None], stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), load.progress_seconds)
        elapsed = time.time() - started
        acked = len(report.delivery.acknowledged)
        say(f"loadgen {elapsed / 60:4.1f}/{load.minutes:g} min: acknowledged {acked}/{total} "
            f"({acked / max(elapsed, 1e-9):.1f}/s), threaded {len(observer.seen.threaded)}, "
            f"routed {len(observer.seen.routed)}, replied {report.work.replied}, resolved "
            f"{report.work.resolved}")


def _worst_lag(lags: list[PartitionLag]) -> dict[str, tuple[int, float]]:
    worst: dict[str, tuple[int, float]] = defaultdict(lambda: (0, 0.0))
    for lag in lags:
        messages, seconds = worst[lag.group]
        worst[lag.group] = (max(messages, lag.messages), max(seconds, lag.seconds))
    return dict(worst)
