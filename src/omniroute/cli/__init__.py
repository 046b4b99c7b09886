"""The ``omniroute`` command line.

Each command group lives in its own module and registers itself on
:data:`omniroute.cli.app.cli` when imported; :data:`COMMAND_MODULES` lists them.
"""

from __future__ import annotations

import importlib

from omniroute.cli.app import cli

COMMAND_MODULES = (
    "omniroute.cli.kafka",
    "omniroute.cli.db",
    "omniroute.cli.topics",
    "omniroute.cli.schemas",
    "omniroute.cli.up",
    "omniroute.cli.worker",
    "omniroute.cli.monitor",
    "omniroute.cli.ops",
    "omniroute.cli.sink",
    "omniroute.cli.customers",
    "omniroute.cli.gateway",
    "omniroute.cli.agents",
    "omniroute.cli.ingress",
    "omniroute.cli.delivery",
    "omniroute.cli.email",
    "omniroute.cli.router",
)


def main() -> int:
    """Entry point of the ``omniroute`` console script."""
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    cli(prog_name="omniroute")
    return 0
