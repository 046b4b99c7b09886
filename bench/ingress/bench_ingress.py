"""Signed webhook requests/s through the ingress to Kafka, beside an unsigned publish-only baseline.

Both endpoints run in the same process against the same broker with the same
producer settings (acks=all, idempotent), so the ratio isolates what the
connector path adds (signature check, parsing, mapping, validation). Requests
go to 127.0.0.1 only, in a bounded loop.

    .venv/bin/python bench/ingress/bench_ingress.py [--requests 3000] [--concurrency 32] \
        [--rounds 3]

Uses the broker at OMNIROUTE_KAFKA_BOOTSTRAP when it answers, else starts a
throwaway local one.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from omniroute.contract import Address, Channel, InboundMessage
from omniroute.infra.broker import answering_broker, free_port
from omniroute.infra.topics import create_topics
from omniroute.ingress.app import build_app
from omniroute.ingress.publisher import KafkaPublisher
from omniroute.settings import Settings
from omniroute_connectors.signatures import twilio_signature
from omniroute_connectors.twilio import TwilioConnector

TOKEN = "bench-token"


async def minimal_app(publisher: KafkaPublisher) -> web.Application:
    """The baseline: no signature, no parsing beyond one field; publish and answer."""

    async def publish_only(request: web.Request) -> web.Response:
        body = await request.read()
        sid = body.decode()
        await publisher.publish([InboundMessage(
            event_id=f"bench:{sid}", channel=Channel.SMS, provider="bench",
            channel_account="+14155550199", sender=Address(value="+14155550100"),
            recipient=Address(value="+14155550199"), provider_message_id=sid, text="x")])
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/publish", publish_only)
    return app


async def drive(url: str, bodies: list[tuple[bytes, dict[str, str]]], concurrency: int,
                cpu: list[float] | None = None) -> float:
    """Requests/s over ``bodies``; appends this process's CPU seconds per request to ``cpu``
    (client and server share the process: the client's part is the same for both paths)."""
    queue = list(reversed(bodies))
    async with aiohttp.ClientSession() as session:
        async def worker() -> None:
            while queue:
                body, headers = queue.pop()
                async with session.post(url, data=body, headers=headers) as response:
                    assert response.status == 200, await response.text()

        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        if cpu is not None:
            cpu.append((time.process_time() - cpu_started) / len(bodies))
        return len(bodies) / (time.perf_counter() - started)


async def bench(settings: Settings, requests: int, concurrency: int, rounds: int) -> None:
    await create_topics(settings, partitions=3)
    publisher = KafkaPublisher(settings)
    await publisher.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = build_app(settings, [TwilioConnector(settings)], publisher)
    app.add_subapp("/bench/", await minimal_app(publisher))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        signed = []
        for i in range(requests):
            pairs = [("MessageSid", f"SM{i:08d}"), ("From", "+14155550100"),
                     ("To", "+14155550199"), ("Body", f"hello {i}"), ("NumMedia", "0")]
            sig = twilio_signature(TOKEN, f"{base}/webhooks/twilio", pairs)
            signed.append((urlencode(pairs).encode(), {
                "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig}))
        plain = [(f"P{i:08d}".encode(), {"Content-Type": "text/plain"}) for i in range(requests)]
        # both paths warmed up (the first webhook loads phone-number metadata), then rounds
        # interleaved so a change in the machine's load hits both alike; medians reported
        await drive(f"{base}/bench/publish", plain[:200], concurrency)
        await drive(f"{base}/webhooks/twilio", signed[:200], concurrency)
        per_round = max(1, requests // rounds)
        baselines, connectors = [], []
        baseline_cpu: list[float] = []
        connector_cpu: list[float] = []
        for r in range(rounds):
            part = slice(r * per_round, (r + 1) * per_round)
            baselines.append(await drive(f"{base}/bench/publish", plain[part], concurrency,
                                         baseline_cpu))
            connectors.append(await drive(f"{base}/webhooks/twilio", signed[part], concurrency,
                                          connector_cpu))
        baseline, connector = statistics.median(baselines), statistics.median(connectors)
        ratios = sorted(c / b for c, b in zip(connectors, baselines, strict=True))
        print(f"requests per endpoint: {per_round * rounds} in {rounds} interleaved rounds, "
              f"concurrency: {concurrency}")
        print(f"baseline  unsigned publish-only: {baseline:8.0f} req/s (median round)")
        print(f"connector signed Twilio webhook: {connector:8.0f} req/s (median round)")
        print(f"ratio connector/baseline: {connector / baseline:.2f} "
              f"(per round {', '.join(f'{x:.2f}' for x in ratios)})")
        b_cpu, c_cpu = statistics.median(baseline_cpu), statistics.median(connector_cpu)
        print(f"CPU per request (client + server, one process): baseline {b_cpu * 1e6:.0f} µs, "
              f"connector {c_cpu * 1e6:.0f} µs; ratio in CPU {b_cpu / c_cpu:.2f} "
              "(less distorted by a loaded machine)")
    finally:
        await runner.cleanup()
        await publisher.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    env = Settings()
    home = Path(tempfile.mkdtemp(prefix="omniroute-bench-"))
    with answering_broker(env.kafka_bootstrap, env.cache_dir, home) as bootstrap:
        settings = Settings(kafka_bootstrap=bootstrap, twilio_auth_token=TOKEN,
                            topic_namespace=f"bench{uuid.uuid4().hex[:6]}.")
        asyncio.run(bench(settings, args.requests, args.concurrency, args.rounds))


if __name__ == "__main__":
    main()
