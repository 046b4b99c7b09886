"""Worker processes (``python -m omniroute worker``) on the session broker, and probes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from harness.kafka import consume, consume_all, produce, routing_requests_so_far
from harness.ports import free_port
from omniroute.contract import (
    Address,
    Channel,
    ConversationEvent,
    DeadLetter,
    IdentityLink,
    InboundMessage,
)
from omniroute.infra.topics import create_topics
from omniroute.routing.requests import RoutingRequest
from omniroute.settings import Settings
from omniroute.worker.app import APP_ID
from omniroute.worker.batchapp import GROUP

ROOT = Path(__file__).resolve().parents[3]
PARTITIONS = 3
SETTLE_S = 1.0
"""How long ``thread_of`` reads on after the messages it waits for are threaded: a merge
they set off lands a hop later (the reads before 2026-12-05 waited out a 2 s window
each, so anywhere from 0 to 2 s)."""


@dataclass
class Thread:
    """Final conversations of some messages (merges followed) and their latest customers."""

    conversations: set[str]
    customers: set[str]
    message_customers: dict[str, str]


@dataclass
class Pipeline:
    """Worker subprocesses sharing one topic namespace, and ways to talk to them."""

    settings: Settings
    logs: Path
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[int, int] = field(default_factory=dict)
    engine: str = "faust"
    """``OMNIROUTE_WORKER_ENGINE`` of the processes: faust, or the batch engine."""
    static: bool = False
    """Worker *i* is static member ``worker<i>`` of its group (``OMNIROUTE_INSTANCE_ID``)."""

    def start(self, index: int) -> None:
        """Start worker ``index`` (a real process, so SIGKILL is real)."""
        self.ports[index] = free_port()
        env = {
            **os.environ,
            "OMNIROUTE_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap,
            "OMNIROUTE_TOPIC_NAMESPACE": self.settings.topic_namespace,
            "OMNIROUTE_STATE_DIR": str(self.settings.state_dir / f"w{index}"),
            "OMNIROUTE_METRICS_PORT": str(self.ports[index]),
            "OMNIROUTE_LOG_FORMAT": "json",
            "OMNIROUTE_WORKER_ENGINE": self.engine,
        }
        if self.static:
            env["OMNIROUTE_INSTANCE_ID"] = f"worker{index}"
        log = (self.logs / f"worker{index}.log").open("ab")
        self.processes[index] = subprocess.Popen(
            [sys.executable, "-m", "omniroute", "worker"], env=env, cwd=ROOT,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )

    @property
    def group(self) -> str:
        """The consumer group of this engine's workers."""
        return self.settings.topic(APP_ID if self.engine == "faust" else GROUP)

    async def group_state(self, group: str) -> tuple[str, int]:
        """Consumer group ``group``'s state (``Dead``: it does not exist) and member count."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        await admin.start()
        try:
            [response] = await admin.describe_consumer_groups([group])
        finally:
            await admin.close()
        _error, _group, state, _type, _protocol, members, *_ = response.groups[0]
        return str(state), len(members)

    async def settled(self, timeout: float = 120.0) -> None:
        """Wait until every running worker is a member of a stable group (seen twice).

        faust can drop a record that reaches a partition with no committed offset
        at the instant a rebalance starts (docs/operations.md); tests that are not
        about rebalancing start on a settled group.
        """
        deadline, looks = time.monotonic() + timeout, 0
        while looks < 2:
            self.assert_running()
            assert time.monotonic() < deadline, f"group {self.group} never settled"
            try:
                stable = await self.group_state(self.group) == ("Stable", len(self.processes))
            except KafkaError:  # no coordinator yet: the group is still being created
                stable = False
            looks = looks + 1 if stable else 0
            await asyncio.sleep(1.0)

    def kill(self, index: int) -> None:
        """SIGKILL worker ``index``: no shutdown, no final commit."""
        process = self.processes.pop(index)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop(self, index: int) -> None:
        """SIGTERM worker ``index`` and wait until it has exited."""
        process = self.processes.pop(index)
        process.send_signal(signal.SIGTERM)
        process.wait(30)

    def stop_all(self) -> None:
        """SIGTERM every worker, SIGKILL the ones that linger."""
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def assert_running(self) -> None:
        """Fail at once (with the log's tail) when a worker process died."""
        for index, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.logs / f"worker{index}.log").read_text()[-3000:]
                raise AssertionError(f"worker {index} exited with {process.returncode}:\n{tail}")

    async def metrics(self) -> list[str]:
        """The Prometheus exposition of every running worker, one text per process."""
        def scrape(port: int) -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                return str(r.read().decode())

        return [await asyncio.to_thread(scrape, self.ports[i]) for i in self.processes]

    def topic(self, name: str) -> str:
        """A topic of this pipeline's namespace."""
        return self.settings.topic(name)

    async def send(self, *messages: InboundMessage) -> None:
        """Publish inbound messages the way connectors do."""
        await produce(self.settings.kafka_bootstrap, self.topic("omniroute.inbound.v1"),
                      [(m.kafka_key.encode(), m.to_json_bytes()) for m in messages])

    async def events(self, workspace: str, count: int, timeout: float = 60.0,
                     kind: str | None = None) -> list[ConversationEvent]:
        """ConversationEvents of ``workspace`` (optionally one kind), waiting for ``count``."""
        def wanted(record: object) -> bool:
            event = ConversationEvent.from_json_bytes(record.value)  # type: ignore[attr-defined]
            return event.workspace == workspace and (kind is None or event.kind == kind)

        deadline = time.monotonic() + timeout
        records: list[Any] = []
        while len(records) < count and time.monotonic() < deadline:
            self.assert_running()
            records = await consume(self.settings.kafka_bootstrap,
                                    self.topic("omniroute.conversations.v1"), count,
                                    timeout=min(5.0, timeout), where=wanted)
        return [ConversationEvent.from_json_bytes(r.value) for r in records]

    async def events_so_far(self, workspace: str, kind: str | None = None
                            ) -> list[ConversationEvent]:
        """Every ConversationEvent of ``workspace`` (optionally one kind) committed so far."""
        def wanted(record: object) -> bool:
            event = ConversationEvent.from_json_bytes(record.value)  # type: ignore[attr-defined]
            return event.workspace == workspace and (kind is None or event.kind == kind)

        records = await consume_all(self.settings.kafka_bootstrap,
                                    self.topic("omniroute.conversations.v1"), wanted)
        return [ConversationEvent.from_json_bytes(r.value) for r in records]

    async def added(self, workspace: str, event_ids: set[str],
                    timeout: float = 180.0) -> list[ConversationEvent]:
        """message_added events until every one of ``event_ids`` arrived (replays included)."""
        deadline = time.monotonic() + timeout
        found: list[ConversationEvent] = []
        while time.monotonic() < deadline:
            self.assert_running()
            found = await self.events_so_far(workspace, kind="message_added")
            if event_ids <= {e.message.source_event_id for e in found if e.message}:
                break
            await asyncio.sleep(0.5)
        return found

    async def requests(self, workspace: str) -> list[RoutingRequest]:
        """Every RoutingRequest of ``workspace`` so far, in per-conversation order."""
        return await routing_requests_so_far(self.settings.kafka_bootstrap,
                                             self.settings.topic_namespace,
                                             where=lambda r: r.workspace == workspace)

    async def link(self, link: IdentityLink) -> None:
        """Publish a CRM link or unlink claim."""
        await produce(self.settings.kafka_bootstrap, self.topic("omniroute.identity-links.v1"),
                      [(link.customer_hint.encode(), link.to_json_bytes())])

    async def raw(self, topic: str, key: bytes, value: bytes) -> None:
        """Publish arbitrary bytes (poison)."""
        await produce(self.settings.kafka_bootstrap, self.topic(topic), [(key, value)])

    async def dead_letters(self, count: int) -> list[DeadLetter]:
        """Dead letters so far, waiting for ``count``."""
        self.assert_running()
        records = await consume(self.settings.kafka_bootstrap, self.topic("omniroute.dlq.v1"),
                                count, timeout=60.0)
        return [DeadLetter.from_json_bytes(r.value) for r in records]

    async def dead_letters_now(self, timeout: float = 3.0) -> list[DeadLetter]:
        """Every dead letter so far (none is expected to arrive after ``timeout``)."""
        records = await consume(self.settings.kafka_bootstrap, self.topic("omniroute.dlq.v1"),
                                10**6, timeout=timeout)
        return [DeadLetter.from_json_bytes(r.value) for r in records]

    async def thread_of(self, workspace: str, *messages: InboundMessage) -> Thread:
        """Where ``messages`` ended up: their final conversations and its customers."""
        wanted = {m.event_id for m in messages}
        events: list[ConversationEvent] = []
        deadline = time.monotonic() + 60.0
        settled = False
        while time.monotonic() < deadline:
            self.assert_running()
            events = await self.events_so_far(workspace)
            added = {e.message.source_event_id: e for e in events
                     if e.kind == "message_added" and e.message}
            if settled:
                break
            if wanted <= set(added):
                # once more after SETTLE_S: what those messages set off in later hops
                # (a merge, a fold) lands too
                settled = True
                await asyncio.sleep(SETTLE_S)
            else:
                await asyncio.sleep(0.25)
        merged = {e.conversation_id: e.merged_into for e in events if e.kind == "merged"}

        def final(conversation: str) -> str:
            while conversation in merged:
                conversation = merged[conversation]  # type: ignore[assignment]
            return conversation

        conversations = {final(added[m].conversation_id) for m in wanted if m in added}
        latest: dict[str, str] = {}
        for event in events:
            latest[final(event.conversation_id)] = event.customer_id
        for request in await self.requests(workspace):
            latest[final(request.conversation_id)] = request.customer_id
        return Thread(conversations, {latest[c] for c in conversations},
                      {m: added[m].customer_id for m in wanted if m in added})


def samples(texts: list[str], name: str, **labels: str) -> float:
    """The sum over processes of ``name`` samples carrying at least ``labels``."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    total = 0.0
    for text in texts:
        for line in text.splitlines():
            if line.startswith(name + "{") and all(w in line for w in wanted):
                total += float(line.rsplit(" ", 1)[1])
    return total


def inbound(workspace: str, channel: Channel, sender: str, text: str = "hi",
            event_id: str | None = None, account: str = "acct", **extra: object) -> InboundMessage:
    """An InboundMessage as a connector would publish it."""
    event_id = event_id or f"{channel.value}:{uuid.uuid4().hex}"
    if channel is Channel.EMAIL and "metadata" not in extra:  # mail as an authenticated sender
        extra["metadata"] = {"email_auth": "pass", "email_auth_by": "mailgun"}
    return InboundMessage(
        event_id=event_id, workspace=workspace, channel=channel, provider=channel.value,
        channel_account=account, sender=Address(value=sender), recipient=Address(value=account),
        provider_message_id=event_id, text=text, **extra,  # type: ignore[arg-type]
    )


ENGINES = ("faust", "batch")
"""Every test of a pipeline runs on both worker engines."""


@pytest.fixture(scope="module", params=ENGINES)
async def pipeline(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Pipeline]:
    """Two worker processes (of each engine) on a private namespace, every topic created."""
    async with two_workers(kafka_bootstrap, tmp_path_factory.mktemp("workers"),
                           request.param) as pipe:
        yield pipe


@contextlib.asynccontextmanager
async def two_workers(kafka_bootstrap: str, state: Path, engine: str, static: bool = False
                      ) -> AsyncIterator[Pipeline]:
    """Workers 1 and 2 on a new namespace, every topic created, their group settled."""
    settings = Settings(kafka_bootstrap=kafka_bootstrap,
                        topic_namespace=f"t{uuid.uuid4().hex[:10]}.", state_dir=state)
    await create_topics(settings, partitions=PARTITIONS)
    pipe = Pipeline(settings=settings, logs=state, engine=engine, static=static)
    pipe.start(1)
    pipe.start(2)
    try:
        await pipe.settled()
        yield pipe
    finally:
        pipe.stop_all()


@pytest.fixture(scope="session")
def make_inbound() -> object:
    """:func:`inbound`, for tests (conftest modules cannot be imported by name)."""
    return inbound
