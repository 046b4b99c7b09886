"""``omniroute email-delivery``: send channel=email replies through the SMTP relay."""

from __future__ import annotations

import asyncio

from omniroute.cli.app import cli, fails_cleanly, settings_from_env


@cli.command("email-delivery")
@fails_cleanly
def email_delivery() -> None:
    """Consume omniroute.outbound.v1 (channel email), relay over SMTP, publish statuses."""
    from omniroute_connectors.email.sender import run_email_delivery

    asyncio.run(run_email_delivery(settings_from_env()))
