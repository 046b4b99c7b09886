"""``omniroute monitor``: consumer lag exporter."""

from __future__ import annotations

import asyncio
import contextlib

import click

from omniroute.cli.app import cli, fails_cleanly, settings_from_env
from omniroute.monitoring.exporter import run_monitor


@cli.command()
@click.option(
    "--interval",
    type=click.FloatRange(0.5, 3600),
    default=None,
    help="Seconds between measurements (default OMNIROUTE_MONITOR_INTERVAL_SECONDS, 10).",
)
@fails_cleanly
def monitor(interval: float | None) -> None:
    """Export consumer lag (messages and seconds) per group and partition on /metrics."""
    settings = settings_from_env()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_monitor(settings, interval or settings.monitor_interval_seconds))
