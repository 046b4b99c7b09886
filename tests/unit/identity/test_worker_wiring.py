"""The worker's wiring: command, stack component, namespaced app, agents and tables."""

from __future__ import annotations

import importlib

from omniroute.cli import COMMAND_MODULES
from omniroute.cli.app import cli
from omniroute.settings import Settings
from omniroute.stack import COMPONENTS
from omniroute.worker.app import build


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
        }
        assert all(agent.concurrency == 1 for agent in app.agents.values())
        tables = list(app.tables.values())
        assert {t.name for t in tables} == {
            "identity-addresses", "identity-claims", "identity-adjacency", "identity-owners",
            "conversations-customers", "automation-customers",
        }
        assert all(t.partitions == 3 for t in tables)
        assert all(t.changelog_topic.get_topic_name().startswith("ns1.") for t in tables)
