"""The worker's wiring: command, stack component, namespaced app, agents and tables."""

from __future__ import annotations

import asyncio
import importlib

import pytest
from faust.exceptions import PartitionsMismatch

from omniroute.cli import COMMAND_MODULES
from omniroute.cli.app import cli
from omniroute.errors import BrokerError
from omniroute.settings import Settings
from omniroute.stack import COMPONENTS
from omniroute.worker import app as app_module
from omniroute.worker.app import build
from omniroute.worker.topology import changelog_topic


class TestWorkerWiring:
    """``omniroute worker`` exists and builds a namespaced faust app without connecting."""

    def test_command_and_component_are_registered(self) -> None:
        """The command module is listed and ``omniroute up`` runs a worker."""
        for module in COMMAND_MODULES.values():
            importlib.import_module(module)
        assert "worker" in cli.commands
        assert any(c.argv == ("worker",) for c in COMPONENTS)

    def test_every_topic_table_and_the_app_id_are_namespaced(self) -> None:
        """No name escapes the namespace; tables match the partition count; one actor each."""
        worker = build(Settings(topic_namespace="ns1."), partitions=3)
        app = worker.app
        assert app.conf.id == "ns1.omniroute.internal.worker"
        assert not app.conf.web_enabled
        sources = {
            topic for agent in app.agents.values() for topic in agent.channel.topics
        }
        assert sources == {
            "ns1.omniroute.inbound.v1", "ns1.omniroute.identity-links.v1",
            "ns1.omniroute.internal.identity-graph",
            "ns1.omniroute.internal.customers", "ns1.omniroute.conversations.v1",
            # automation: agents' presence and replies, its own clock/reply records
            "ns1.omniroute.agent-events.v1", "ns1.omniroute.outbound.v1",
            "ns1.omniroute.internal.automation",
            # erase: the worker forgets an erased customer (omniroute.worker.erasure)
            "ns1.omniroute.internal.erase-requests",
            # the answer bot's inbox: always, since the admin API switches the bot on live
            "ns1.omniroute.internal.bot-inbox",
        }
        assert all(agent.concurrency == 1 for agent in app.agents.values())
        tables = list(app.tables.values())
        assert {t.name for t in tables} == {
            "identity-addresses", "identity-claims", "identity-adjacency", "identity-owners",
            "conversations-customers", "automation-customers", "bot-sessions",
        }
        assert all(t.partitions == 3 for t in tables)
        assert all(t.changelog_topic.get_topic_name().startswith("ns1.") for t in tables)


class TestChangelogs:
    """The changelogs the worker creates before faust starts are exactly faust's own."""

    def test_changelog_names_match_faust(self) -> None:
        """``changelog_topic`` (namespaced) is the name faust reads and writes."""
        settings = Settings(topic_namespace="ns1.")
        worker = build(settings, partitions=3)
        for table in worker.app.tables.values():
            assert settings.topic(changelog_topic(table.name)) == (
                table.changelog_topic.get_topic_name())


class _Message:
    def __init__(self) -> None:
        self.topic, self.partition, self.offset, self.acked = "t", 0, 7, False


class _Event:
    def __init__(self) -> None:
        self.message, self.key, self.value = _Message(), b"k", b"{}"


class TestRetries:
    """A failure that is not the record's is retried in place; bad input is dead-lettered."""

    async def test_infrastructure_failures_are_retried_until_the_record_is_done(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """PartitionsMismatch and a retriable BrokerError: retried, never dead-lettered."""
        worker = build(Settings(topic_namespace="ns2."), partitions=3)
        monkeypatch.setattr(app_module, "RETRY_BACKOFF_SECONDS", (0.0,))
        letters: list[BaseException] = []

        async def dead_letter(processor: str, event: object, error: BaseException) -> None:
            letters.append(error)

        monkeypatch.setattr(worker, "dead_letter", dead_letter)
        failures = [PartitionsMismatch("changelog has 0 partitions"), BrokerError("down")]
        calls = 0

        async def handle(event: object) -> str | None:
            nonlocal calls
            calls += 1
            if failures:
                raise failures.pop(0)
            return "sms"

        assert await worker._until_done("p", _Event(), handle) == "sms"
        assert calls == 3
        assert letters == []

    async def test_bad_input_is_dead_lettered_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A ValueError from the record: one dead letter, no retry."""
        worker = build(Settings(topic_namespace="ns3."), partitions=3)
        letters: list[BaseException] = []

        async def dead_letter(processor: str, event: object, error: BaseException) -> None:
            letters.append(error)

        monkeypatch.setattr(worker, "dead_letter", dead_letter)

        async def handle(event: object) -> str | None:
            raise ValueError("not a message")

        assert await worker._until_done("p", _Event(), handle) is None
        assert [type(e) for e in letters] == [ValueError]

    async def test_a_cancelled_record_is_never_acknowledged(self) -> None:
        """Shutdown in the middle of a record: its offset must not be committed past."""
        worker = build(Settings(topic_namespace="ns4."), partitions=3)
        event = _Event()

        async def handle(event: object) -> str | None:
            await asyncio.sleep(10)
            return None

        task = asyncio.create_task(worker._guarded("src", "p", "identity", event, handle))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert event.message.acked  # faust's Message.ack is then a no-op: never committed
