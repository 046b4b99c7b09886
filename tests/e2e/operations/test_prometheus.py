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
from omniroute.contract import AgentEvent
from omniroute.contract.topics import AGENT_EVENTS, CONVERSATIONS, INBOUND
from omniroute.monitoring import dashboards
from omniroute.stack import COMPONENTS
from omniroute_connectors.signatures import twilio_signature

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
TOKEN = "ops-e2e-token"

# Panels the test's traffic does not fill (no agent replies, nothing retried); every
# other panel must show data, and every panel must evaluate without error.
PANELS_WITHOUT_TRAFFIC = {"Messages out per channel", "Retries"}
# The leads' dashboard is fed by `omniroute analytics run`, which `omniroute up` does not
# start (tests/integration/analytics/test_live.py checks its gauges); its queries must
# still evaluate.
DASHBOARDS_OUTSIDE_THE_STACK = {"omniroute-support"}

ROUTING = """
[routing]
default_pool = "support"

[pools.support]
selection = "longest_idle"

[agents.ada]
pool = "support"
capacity = 2
auto_accept = true
"""


async def post_sms(base: str, sid: str, token: str = TOKEN) -> int:
    pairs = [("MessageSid", sid), ("From", "+14155550100"), ("To", "+14155550199"),
             ("Body", f"hello {sid}")]
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": twilio_signature(token, f"{base}/webhooks/twilio", pairs)}
    async with aiohttp.ClientSession() as session, session.post(
        f"{base}/webhooks/twilio", data=urlencode(pairs), headers=headers
    ) as response:
        return response.status


async def agent_available(bootstrap: str, topic: str) -> None:
    event = AgentEvent(event_id="ada-available", agent_id="ada", kind="presence",
                       presence="available", pool="support")
    await produce(bootstrap, topic, [(b"ada", event.to_json_bytes())])


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
        routing_file = tmp_path / "routing.toml"
        routing_file.write_text(ROUTING)
        env = stack_env(
            kafka_bootstrap=kafka_bootstrap, namespace=namespace, database_url=database_url,
            state_dir=tmp_path / "state", OMNIROUTE_TWILIO_AUTH_TOKEN=TOKEN,
            OMNIROUTE_ROUTING_CONFIG=str(routing_file),
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
            await agent_available(kafka_bootstrap, f"{namespace}{AGENT_EVENTS.name}")
            assert [await post_sms(base, f"SMops{i}") for i in range(3)] == [200, 200, 200]
            assert await post_sms(base, "SMforged", token="not-the-token") == 403
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
                if title not in PANELS_WITHOUT_TRAFFIC and uid not in DASHBOARDS_OUTSIDE_THE_STACK \
                        and not result:
                    empty.append(f"{uid} / {title}: {expr}")
            assert not empty, "panels without data:\n" + "\n".join(empty)
            rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
            for rule in rules["groups"][0]["rules"]:
                prometheus.query(rule["expr"])
            loaded = {r["name"] for g in prometheus.api("rules")["groups"] for r in g["rules"]}
            assert loaded == {r["alert"] for r in rules["groups"][0]["rules"]}
