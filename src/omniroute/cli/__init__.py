"""The ``omniroute`` command line.

Each command group lives in its own module and registers itself on
:data:`omniroute.cli.app.cli` when imported; :data:`COMMAND_MODULES` lists them.
"""

from __future__ import annotations

from omniroute.cli.app import cli

COMMAND_MODULES: dict[str, str] = {
    "kafka": "omniroute.cli.kafka",
    "db": "omniroute.cli.db",
    "topics": "omniroute.cli.topics",
    "schemas": "omniroute.cli.schemas",
    "up": "omniroute.cli.up",
    "worker": "omniroute.cli.worker",
    "monitor": "omniroute.cli.monitor",
    "ops": "omniroute.cli.ops",
    "sink": "omniroute.cli.sink",
    "customers": "omniroute.cli.customers",
    "gateway": "omniroute.cli.gateway",
    "agents": "omniroute.cli.agents",
    "ingress": "omniroute.cli.ingress",
    "delivery": "omniroute.cli.delivery",
    "email-delivery": "omniroute.cli.email",
    "router": "omniroute.cli.router",
    "admin": "omniroute.cli.admin",
    "dlq": "omniroute.cli.dlq",
    "automation": "omniroute.cli.automation",
    "analytics": "omniroute.cli.analytics",
    "report": "omniroute.cli.analytics",
    "staffing": "omniroute.cli.analytics",
    "whatif": "omniroute.cli.analytics",
    "kb": "omniroute.cli.kb",
    "loadgen": "omniroute.cli.loadgen",
}
"""command name → the module that defines it (imported only when the command runs)."""

cli.lazy_commands = COMMAND_MODULES


def main() -> int:
    """Entry point of the ``omniroute`` console script."""
    cli(prog_name="omniroute")
    return 0
