"""A conversation no pool takes is parked with its reason, and routed when the customer writes again.

Through public interfaces only: a signed Telegram webhook into the ingress; the
routing configuration changed with ``omniroute router configure``; the
conversation's life read from ``omniroute.conversations.v1``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from harness.cli import run_omniroute
from harness.fleet import Fleet
from harness.kafka import produce
from harness.soak import SECRETS, stack_environment, wait_http
from omniroute.contract import AgentEvent, ConversationEvent
from omniroute.infra.topics import create_topics
from omniroute.loadgen.audit import read_topic
from omniroute.loadgen.senders import deliver
from omniroute.loadgen.traffic import Customer, Message, signed_request
from omniroute.settings import Settings

NO_DEFAULT = """
[[routing.rules]]
channel = "email"
pool = "mail"

[pools.mail]
[pools.chat]

[agents.ann]
pool = "chat"
capacity = 5
auto_accept = true
"""


async def events(settings: Settings, kinds: set[str], want: int,
                 timeout: float = 90.0) -> list[ConversationEvent]:
    """ConversationEvents of the given kinds, waiting until ``want`` of them arrived."""
    deadline = time.monotonic() + timeout
    found: list[ConversationEvent] = []
    while time.monotonic() < deadline:
        records = await read_topic(settings.kafka_bootstrap,
                                   settings.topic("omniroute.conversations.v1"))
        found = [e for e in (ConversationEvent.from_json_bytes(r.value) for r in records)
                 if e.kind in kinds]
        if len(found) >= want:
            break
        await asyncio.sleep(1.0)
    return found


async def test_parked_then_routed_when_the_customer_writes_again(
    kafka_bootstrap: str, namespace: str, database_url: str, tmp_path: Path
) -> None:
    """No pool → ``parked`` with the reason; a default pool is configured live; the next
    message routes the same conversation, and the agent gets it."""
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_namespace=namespace)
    await create_topics(settings)
    state = tmp_path / "state"
    state.mkdir()
    env = stack_environment(kafka_bootstrap, namespace, database_url, state)
    (state / "routing.toml").write_text(NO_DEFAULT)
    fleet = Fleet(env=env, logs=state)
    base = env["OMNIROUTE_PUBLIC_BASE_URL"]
    person = Customer(1, ("telegram",))
    try:
        for name, argv in (("worker", ("worker",)), ("router", ("router", "run")),
                           ("ingress", ("ingress",))):
            fleet.start(name, *argv)
        await asyncio.to_thread(wait_http, f"{base}/healthz", fleet)
        ann = AgentEvent(event_id="ann-on", agent_id="ann", kind="presence",
                         presence="available", pool="chat")
        await produce(kafka_bootstrap, settings.topic("omniroute.agent-events.v1"),
                      [(b"ann", ann.to_json_bytes())])
        first = Message(1, "telegram", "park-1", 0)
        assert len((await deliver(base, [signed_request(first, person, SECRETS, base)])
                    ).acknowledged) == 1
        (parked,) = await events(settings, {"parked"}, 1)
        assert parked.reason and "no pool" in parked.reason

        (state / "routing.toml").write_text('[routing]\ndefault_pool = "chat"\n' + NO_DEFAULT)
        configured = await asyncio.to_thread(
            run_omniroute, "router", "configure", str(state / "routing.toml"), env=env)
        assert configured.returncode == 0, configured.stderr
        await asyncio.sleep(2.0)
        second = Message(1, "telegram", "park-2", 1)
        assert len((await deliver(base, [signed_request(second, person, SECRETS, base)])
                    ).acknowledged) == 1
        (assigned,) = await events(settings, {"assigned"}, 1)
        assert assigned.conversation_id == parked.conversation_id
        assert assigned.agent_id == "ann"
        opened = await events(settings, {"opened"}, 1, timeout=2.0)
        assert len(opened) == 1
    finally:
        fleet.stop_all()
