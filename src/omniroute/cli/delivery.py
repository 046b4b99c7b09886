"""``omniroute delivery``: deliver omniroute.outbound.v1 through each provider's API."""

from __future__ import annotations

import asyncio

from omniroute.cli.app import cli, fails_cleanly, settings_from_env
from omniroute.delivery.service import run_delivery


@cli.command()
@fails_cleanly
def delivery() -> None:
    """Consume outbound messages, send them, and publish their DeliveryStatus."""
    asyncio.run(run_delivery(settings_from_env()))
