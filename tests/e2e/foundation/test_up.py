"""`omniroute up` brings the whole local stack up from nothing and Ctrl-C takes it all down."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from harness.cli import omniroute_env, run_omniroute
from harness.ports import free_port, free_port_block
from harness.stack import RunningStack, running_stack
from omniroute.cli.up import readiness_url
from omniroute.monitoring.prometheus import scrape_target
from omniroute.settings import Settings
from omniroute.stack import COMPONENTS


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _scrape(url: str, timeout: float) -> str:
    """GET a page, retrying until it answers 200 (a process may still be starting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return str(answer.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _no_network_maven(tmp_path: Path) -> str:
    """A PATH whose `mvn` fails loudly: any attempt to download shows up as a failure."""
    bin_dir = tmp_path / "offline-bin"
    bin_dir.mkdir()
    fake = bin_dir / "mvn"
    fake.write_text("#!/bin/sh\necho 'mvn called: network needed' >&2\nexit 97\n")
    fake.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


class TestUp:
    @staticmethod
    def _every_process_is_ready_when_up_says_so(env: dict[str, str]) -> None:
        """Asked once, right after "omniroute is up": `up` used to say so as soon as it had
        started the processes, and Prometheus then answered 503 to a query."""
        settings = Settings(**{k.removeprefix("OMNIROUTE_").lower(): v
                               for k, v in env.items() if k.startswith("OMNIROUTE_")})
        for component in COMPONENTS:
            if component.available():
                url = readiness_url(settings, component)
                with urllib.request.urlopen(url, timeout=5) as answer:
                    assert answer.status == 200, f"{component.name} at {url}"

    @staticmethod
    def _every_process_serves_metrics(env: dict[str, str]) -> None:
        settings = Settings(**{k.removeprefix("OMNIROUTE_").lower(): v
                               for k, v in env.items() if k.startswith("OMNIROUTE_")})
        for component in COMPONENTS:
            if not component.available():
                continue
            url = f"http://{scrape_target(settings, component)}/metrics"
            page = _scrape(url, timeout=90)
            if component.name == "prometheus":
                assert "prometheus_build_info" in page
                continue
            assert "omniroute_build_info" in page, f"{component.name} at {url}"
            base = url.removesuffix("/metrics")
            assert '"alive"' in _scrape(f"{base}/healthz", timeout=10), component.name

    @staticmethod
    def _broker_and_database_are_restarted(stack: RunningStack, state: Path) -> None:
        """SIGKILL the broker, then the embedded PostgreSQL: `up` starts each again, and the
        gateway (which needs both) is ready again. `up` used to leave them dead: the broker
        lingered as a zombie, and `omniroute kafka start` said it was already running."""
        broker = int((state / "kafka" / "broker.pid").read_text())
        os.kill(broker, signal.SIGKILL)
        assert stack.saw("kafka is running again", timeout=120), stack.log_tail(30)
        status = run_omniroute("kafka", "status", env=stack.env)
        assert status.returncode == 0 and "healthy" in status.stdout, status.stdout
        assert int((state / "kafka" / "broker.pid").read_text()) != broker
        postmaster = int((state / "postgres" / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)
        assert stack.saw("postgresql is running again", timeout=120), stack.log_tail(30)
        gateway = f"http://127.0.0.1:{stack.port('GATEWAY')}"
        assert '"ready"' in _scrape(f"{gateway}/readyz", timeout=90)
        assert stack.process.poll() is None, stack.log_tail(30)

    def test_up_runs_the_stack_and_ctrl_c_stops_it_twice_in_a_row(self, tmp_path: Path) -> None:
        """Two runs from an empty state dir: Kafka healthy while up, everything gone after SIGINT."""
        kafka_port = free_port()
        env = omniroute_env(
            OMNIROUTE_STATE_DIR=str(tmp_path / "state"),
            OMNIROUTE_KAFKA_BOOTSTRAP=f"127.0.0.1:{kafka_port}",
            OMNIROUTE_INGRESS_PORT=str(free_port()),
            OMNIROUTE_GATEWAY_PORT=str(free_port()),
            OMNIROUTE_SMTP_PORT=str(free_port()),
            OMNIROUTE_METRICS_PORT=str(free_port_block(len(COMPONENTS))),
            OMNIROUTE_PROMETHEUS_PORT=str(free_port()),
            OMNIROUTE_LOG_FORMAT="json",
            PATH=_no_network_maven(tmp_path),
        )
        postgres = tmp_path / "state" / "postgres"
        for run in (1, 2):
            if run == 2:
                # an earlier `up` SIGKILLed while holding the embedded PostgreSQL (a power loss)
                # never took itself off pgserver's holders: no Ctrl-C stopped PostgreSQL again
                stale = subprocess.Popen(["true"])
                stale.wait()
                holders = postgres / ".handle_pids.json"
                holders.write_text(json.dumps([*json.loads(holders.read_text()), stale.pid]))
            with running_stack(env) as stack:
                if run == 1:
                    self._every_process_is_ready_when_up_says_so(env)
                status = run_omniroute("kafka", "status", env=env)
                assert status.returncode == 0, status.stdout + status.stderr
                assert status.stdout.startswith(f"kafka healthy at 127.0.0.1:{kafka_port}")
                assert "topic(s)" in status.stdout and " 0 topic(s)" not in status.stdout
                if run == 1:
                    self._every_process_serves_metrics(env)
                    # an SRE alerting on error lines must not be paged by a clean start
                    # (the worker read its just-created changelogs before their leaders served them)
                    errors = [line for line in stack.lines if '"level": "error"' in line]
                    assert not errors, "".join(errors[:5])
                else:
                    self._broker_and_database_are_restarted(stack, tmp_path / "state")
            assert stack.saw("omniroute stopped"), stack.log_tail(30)
            assert stack.process.returncode == 0, f"run {run}: " + stack.log_tail(30)
            assert not _listening(kafka_port), f"run {run}: kafka still listening after Ctrl-C"
            assert not (postgres / "postmaster.pid").exists(), \
                f"run {run}: PostgreSQL still running after Ctrl-C"
            assert not stack.saw("mvn called", timeout=0)
