"""``omniroute loadgen``: drive a running stack at a steady rate and report what it did."""

from __future__ import annotations

import asyncio

import click

from omniroute.cli.app import cli, fails_cleanly, settings_from_env


@cli.command()
@click.option("--minutes", type=click.FloatRange(0.05, 600), default=5.0, show_default=True,
              help="How long to send.")
@click.option("--rate", type=click.FloatRange(0.1, 5000), default=10.0, show_default=True,
              help="Customer messages per second (signed webhooks to the ingress).")
@click.option("--customers", type=click.IntRange(1), default=500, show_default=True,
              help="Distinct customers (a quarter write on both SMS and WhatsApp).")
@click.option("--agents", default=",".join(f"agent{i}" for i in range(8)), show_default=True,
              help="Comma-separated agent ids to simulate (members of a routing pool).")
@click.option("--handle-seconds", type=click.FloatRange(0, 3600), default=8.0,
              show_default=True, help="How long an agent holds a conversation before resolving.")
@fails_cleanly
def loadgen(minutes: float, rate: float, customers: int, agents: str,
            handle_seconds: float) -> None:
    """Drive the RUNNING stack of these settings: customers' webhooks in, agents working
    through the gateway; print progress, then throughput, latency percentiles and lag."""
    from omniroute.loadgen.drive import Load, drive

    settings = settings_from_env()
    load = Load(minutes=minutes, rate=rate, customers=customers,
                agents=tuple(a.strip() for a in agents.split(",") if a.strip()),
                handle_seconds=handle_seconds)
    report = asyncio.run(drive(settings, load, say=lambda line: click.echo(line, err=True)))
    for line in report.lines():
        click.echo(line)
