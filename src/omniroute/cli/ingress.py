"""``omniroute ingress``: the webhook server hosting every messaging connector."""

from __future__ import annotations

import asyncio

from omniroute.cli.app import cli, fails_cleanly, settings_from_env
from omniroute.ingress.server import run_ingress


@cli.command()
@fails_cleanly
def ingress() -> None:
    """Serve provider webhooks on OMNIROUTE_INGRESS_PORT and publish them to Kafka."""
    asyncio.run(run_ingress(settings_from_env()))
