"""Debian's Prometheus, run by `omniroute up`, scrapes every process; dashboards and alerts work.

The stack runs on the session broker (its own topic namespace) and a test
database; Prometheus scrapes every second. Traffic: signed webhooks, a poison
record (dead letter) and a consumer group that stops (lag).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from harness.kafka import produce
from harness.prometheus import PrometheusClient
from harness.stack import running_stack, stack_env
from omniroute.contract.topics import CONVERSATIONS, INBOUND
from omniroute.monitoring import dashboards
from omniroute.stack import COMPONENTS
from omniroute_connectors.signatures import twilio_signature

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
TOKEN = "ops-e2e-token"

# Panels the test's traffic fills; every other panel must evaluate without error.
PANELS_WITH_DATA = {
    "Processes up",
    "Consumer lag (seconds)",
    "Consumer lag (messages)",
    "Dead letters (10 min)",
    "Webhook requests per provider",
    "Publish latency p99 per provider",
}


async def post_sms(base: str, sid: str) -> int:
    pairs = [("MessageSid", sid), ("From", "+14155550100"), ("To", "+14155550199"),
             ("Body", f"hello {sid}")]
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": twilio_signature(TOKEN, f"{base}/webhooks/twilio", pairs)}
    async with aiohttp.ClientSession() as session, session.post(
        f"{base}/webhooks/twilio", data=urlencode(pairs), headers=headers
    ) as response:
        return response.status


async def stall_a_consumer(bootstrap: str, topic: str, group: str) -> None:
    """A consumer group that committed offset 0 everywhere and went away."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    assert partitions, f"{topic} has no partitions"
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.commit(dict.fromkeys(partitions, 0))
    finally:
        await consumer.stop()


class TestPrometheusAgainstTheStack:
    async def test_scrapes_every_process_evaluates_every_query_and_alerts(
        self, kafka_bootstrap: str, namespace: str, database_url: str, tmp_path: Path
    ) -> None:
        """All targets up; every dashboard query and alert expression evaluates; the
        dead-letter and lag alerts go pending."""
        env = stack_env(
            kafka_bootstrap=kafka_bootstrap, namespace=namespace, database_url=database_url,
            state_dir=tmp_path / "state", OMNIROUTE_TWILIO_AUTH_TOKEN=TOKEN,
            OMNIROUTE_PROMETHEUS_SCRAPE_INTERVAL="1s", OMNIROUTE_MONITOR_INTERVAL_SECONDS="1",
        )
        env["OMNIROUTE_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{env['OMNIROUTE_INGRESS_PORT']}"
        with running_stack(env) as stack:
            prometheus = PrometheusClient(f"http://127.0.0.1:{stack.port('PROMETHEUS')}")
            jobs = {f"omniroute-{c.name}" for c in COMPONENTS if c.available()}
            up = await asyncio.to_thread(
                prometheus.wait_until, 'up{job=~"omniroute-.*"} == 1',
                lambda result: {r["metric"]["job"] for r in result} == jobs, 120,
            )
            assert {r["metric"]["job"] for r in up} == jobs, stack.log_tail()

            base = env["OMNIROUTE_PUBLIC_BASE_URL"]
            assert [await post_sms(base, f"SMops{i}") for i in range(3)] == [200, 200, 200]
            await produce(kafka_bootstrap, f"{namespace}{CONVERSATIONS.name}", [(b"poison", b"\xff not json")])
            await stall_a_consumer(kafka_bootstrap, f"{namespace}{INBOUND.name}", f"{namespace}stalled-agent-app")

            alerts = await asyncio.to_thread(
                prometheus.wait_for_alerts, {"OmnirouteDeadLetters", "OmnirouteConsumerLagHigh"}, 150,
            )
            assert alerts.get("OmnirouteDeadLetters") in ("pending", "firing"), alerts
            assert alerts.get("OmnirouteConsumerLagHigh") in ("pending", "firing"), alerts

            empty = []
            for uid, title, expr in dashboards.all_queries():
                result = prometheus.query(expr)  # raises on any PromQL or evaluation error
                if title in PANELS_WITH_DATA and not result:
                    empty.append(f"{uid} / {title}: {expr}")
            assert not empty, "panels without data:\n" + "\n".join(empty)
            rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
            for rule in rules["groups"][0]["rules"]:
                prometheus.query(rule["expr"])
            loaded = {r["name"] for g in prometheus.api("rules")["groups"] for r in g["rules"]}
            assert loaded == {r["alert"] for r in rules["groups"][0]["rules"]}
