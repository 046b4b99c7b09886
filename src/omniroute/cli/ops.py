"""``omniroute ops``: the SRE's files — dashboards and the Prometheus configuration."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from omniroute.cli.app import cli, fails_cleanly, say, settings_from_env
from omniroute.errors import ConfigurationError
from omniroute.monitoring import dashboards
from omniroute.monitoring.prometheus import write_prometheus_config


@cli.group()
def ops() -> None:
    """Dashboards, alert rules and scrape configuration for operators."""


@ops.command("dashboards")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=dashboards.DASHBOARD_DIR,
    show_default=True,
)
@click.option("--check", is_flag=True, help="Exit 1 if the files differ instead of writing.")
def write_dashboards(directory: Path, check: bool) -> None:
    """Write the Grafana dashboards (overview, routing, channels) as JSON."""
    if check:
        stale = [
            name
            for name, text in dashboards.render_all().items()
            if not (directory / name).exists() or (directory / name).read_text() != text
        ]
        for name in stale:
            say(f"out of date: {directory / name}")
        sys.exit(1 if stale else 0)
    for path in dashboards.write_all(directory):
        say(f"wrote {path}")


@ops.command("prometheus-config")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".omniroute/prometheus/prometheus.yml"),
    show_default=True,
)
@fails_cleanly
def prometheus_config(out: Path) -> None:
    """Write a prometheus.yml that scrapes every process of the local stack."""
    say(f"wrote {write_prometheus_config(settings_from_env(), out)}")


@ops.command("prometheus")
@fails_cleanly
def run_prometheus() -> None:
    """Run Prometheus (Debian's package) scraping the local stack, with omniroute's alert rules."""
    settings = settings_from_env()
    binary = shutil.which("prometheus")
    if binary is None:
        raise ConfigurationError(
            "prometheus is not installed", hint="apt-get install prometheus (bootstrap does)"
        )
    home = (settings.state_dir / "prometheus").resolve()
    config = write_prometheus_config(
        settings, home / "prometheus.yml", scrape_interval=settings.prometheus_scrape_interval
    )
    address = f"{settings.bind_host}:{settings.prometheus_port}"
    say(f"prometheus at http://{address} (config {config})")
    os.execv(
        binary,
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address={address}",
            "--storage.tsdb.retention.time=7d",
            "--log.format=json",
        ],
    )


@ops.command("metrics")
def list_metrics() -> None:
    """Print every metric omniroute exports as a Markdown table (for docs/operations.md)."""
    from omniroute.monitoring.catalog import markdown_table, metric_catalog

    click.echo(markdown_table(metric_catalog()), nl=False)
