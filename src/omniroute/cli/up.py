"""``omniroute up``: the whole local stack in the foreground; Ctrl-C stops all of it."""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path
from typing import TextIO

from omniroute.cli.app import cli, fails_cleanly, say, settings_from_env
from omniroute.cli.db import migrate_database
from omniroute.cli.kafka import local_broker
from omniroute.errors import BrokerError, ConfigurationError
from omniroute.infra.broker import LocalBroker
from omniroute.infra.postgres import (
    describe,
    embedded_running,
    resolve_database_url,
    restart_embedded,
)
from omniroute.infra.probe import probe
from omniroute.infra.topics import create_topics
from omniroute.monitoring.dashboards import DASHBOARD_DIR
from omniroute.monitoring.prometheus import RULES_FILE, scrape_target
from omniroute.settings import Settings
from omniroute.stack import (
    COMPONENTS,
    Component,
    Service,
    Supervisor,
    child_environment,
    stack_instances,
)

READY_TIMEOUT = 120.0
"""How long ``up`` waits for every process to be ready before it says it is up anyway."""


def readiness_url(settings: Settings, component: Component) -> str:
    """Where a component says whether it is ready: beside its ``/metrics``."""
    return f"http://{scrape_target(settings, component)}{component.ready_path}"


def print_endpoints(settings: Settings) -> None:
    """Where each process serves its metrics, and where the dashboards and alerts are."""
    for component in COMPONENTS:
        if component.available():
            target = scrape_target(settings, component)
            say(f"  {component.name:<10} metrics http://{target}/metrics")
    say(f"  alert rules {RULES_FILE}")
    say(f"  dashboards {DASHBOARD_DIR} (Grafana JSON; import with your Prometheus data source)")


def started_services(settings: Settings, broker: LocalBroker | None) -> list[Service]:
    """The servers this ``up`` started and restarts when they die (not one it found
    running, nor a database given by URL)."""
    services = []
    if broker is not None:
        services.append(Service("kafka", running=lambda: broker.pid() is not None,
                                start=lambda: broker.start(progress=say, ports_grace=10.0)))
    if settings.embedded_database:
        data_dir = settings.state_dir / "postgres"
        services.append(Service("postgresql", running=lambda: embedded_running(data_dir),
                                start=lambda: restart_embedded(data_dir)))
    return services


def hold_state_dir(state_dir: Path) -> TextIO:
    """Hold ``state_dir/up.lock`` for as long as this process lives (the kernel lets go when
    it ends, SIGKILL included); refuse when another ``omniroute up`` holds it.

    A second ``up`` on the same state directory would find the first one's broker answering,
    use it, and start every process again under the same instance ids, and two processes
    with one id take each other's partitions in turn (docs/operations.md)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = (state_dir / "up.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise ConfigurationError(
            f"omniroute is already running from {state_dir} ({holder}); stop it with Ctrl-C "
            "first, or give this one its own OMNIROUTE_STATE_DIR") from None
    handle.truncate(0)
    handle.write(f"omniroute up, pid {os.getpid()}\n")
    handle.flush()
    return handle


@cli.command()
@fails_cleanly
def up() -> None:
    """Start Kafka, PostgreSQL and every omniroute process; stop them all on Ctrl-C."""
    settings = settings_from_env()
    lock = hold_state_dir(settings.state_dir)  # noqa: F841 (held until this process ends)
    broker = None
    try:
        asyncio.run(probe(settings.kafka_bootstrap, timeout=2.0, expect_none=True))
        say(f"using the Kafka broker already answering at {settings.kafka_bootstrap}")
    except BrokerError:
        broker = local_broker(settings)
        broker.start(progress=say)
    supervisor = None
    try:
        embedded = settings.embedded_database
        say("starting PostgreSQL..." if embedded else "connecting to PostgreSQL...")
        url = resolve_database_url(settings)
        applied = asyncio.run(migrate_database(url, settings.database_connect_timeout))
        say(f"database {describe(url)} ready ({len(applied)} migration(s) applied)")
        results = asyncio.run(create_topics(settings))
        say(f"topics ready ({sum(r.created for r in results)} created, {len(results)} in all)")
        supervisor = Supervisor(
            env=child_environment(url), metrics_base=settings.metrics_port, say=say,
            services=started_services(settings, broker), instances=stack_instances(settings),
        )
        supervisor.start(COMPONENTS)
        supervisor.stop_on_signal()
        print_endpoints(settings)
        starting = supervisor.wait_ready(lambda c: readiness_url(settings, c), READY_TIMEOUT)
        if not supervisor.stopping:
            if starting:
                say(f"not ready after {READY_TIMEOUT:.0f}s: {', '.join(starting)} (see their "
                    "log lines above; they keep retrying)")
            say(
                f"omniroute is up: kafka {settings.kafka_bootstrap}, "
                f"{len(COMPONENTS)} process(es); Ctrl-C stops everything"
            )
            supervisor.run_until_signal()
        say("shutting down...")
    finally:
        if supervisor is not None:
            supervisor.stop()
        if broker is not None:
            broker.stop(progress=say)
        say("omniroute stopped")
