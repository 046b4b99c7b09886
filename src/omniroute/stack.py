"""The processes ``omniroute up`` runs beside Kafka and PostgreSQL, and how it supervises them.

Each capability that adds a long-running process adds one :class:`Component`
to :data:`COMPONENTS`. The supervisor restarts a component that exits
unexpectedly (with backoff), and the Kafka broker and embedded PostgreSQL when
``omniroute up`` started them (:class:`Service`), and stops all of them on Ctrl-C.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from omniroute.infra.broker import ends_with_parent
from omniroute.settings import Settings


@dataclass(frozen=True)
class Component:
    """A long-running omniroute process: ``omniroute <argv...>``.

    ``http_port`` names the Settings field of the HTTP server a component runs
    (``ingress_port``): Prometheus scrapes ``/metrics`` there. Components without
    one serve ``/metrics`` on their own metrics port (see :func:`metrics_port`).
    """

    name: str
    argv: tuple[str, ...]
    http_port: str | None = None
    requires: str | None = None
    """An external program the component runs; ``omniroute up`` skips it when absent."""
    ready_path: str = "/readyz"
    """Answers 200 once the component does its work (beside ``/metrics``)."""

    def available(self) -> bool:
        """Whether what the component needs is installed."""
        return self.requires is None or shutil.which(self.requires) is not None


COMPONENTS: tuple[Component, ...] = (
    Component("worker", ("worker",)),
    Component("monitor", ("monitor",)),
    Component("prometheus", ("ops", "prometheus"), http_port="prometheus_port",
              requires="prometheus", ready_path="/-/ready"),
    Component("sink", ("sink",)),
    Component("router", ("router", "run")),
    Component("gateway", ("gateway",), http_port="gateway_port"),
    Component("ingress", ("ingress",), http_port="ingress_port"),
    Component("delivery", ("delivery",)),
    Component("email-delivery", ("email-delivery",)),
)
"""Every process of the local stack, in start order."""


@dataclass
class Service:
    """A server ``omniroute up`` started itself (the Kafka broker, the embedded PostgreSQL):
    watched like the components, started again when it dies."""

    name: str
    running: Callable[[], bool]
    start: Callable[[], object]
    """Start it and return once it answers; raise when it cannot start."""
    restarts: int = 0
    next_start: float = 0.0


@dataclass
class _Child:
    component: Component
    process: subprocess.Popen[bytes]
    restarts: int = 0
    next_start: float = 0.0


def metrics_port(base: int, component: Component) -> int:
    """The port a component serves ``/metrics`` on: ``base`` plus its place in COMPONENTS."""
    names = [c.name for c in COMPONENTS]
    return base + (names.index(component.name) if component.name in names else len(names))


@dataclass
class Supervisor:
    """Runs components as child processes until asked to stop.

    Each child gets ``OMNIROUTE_METRICS_PORT`` = base + its index, so several
    workers on one machine never collide and Prometheus knows where to scrape.
    """

    env: dict[str, str]
    metrics_base: int = 9400
    say: Callable[[str], None] = print
    children: list[_Child] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    """What the components need, checked before them at every round."""
    stopping: bool = False
    instances: str | None = None
    """Each child's ``OMNIROUTE_INSTANCE_ID`` is this plus its name (the same after a
    restart), so a restarted child takes its partitions back without a rebalance."""

    def _spawn(self, component: Component) -> subprocess.Popen[bytes]:
        env = dict(self.env)
        env["OMNIROUTE_METRICS_PORT"] = str(metrics_port(self.metrics_base, component))
        env["OMNIROUTE_STACK_METRICS_BASE"] = str(self.metrics_base)
        if self.instances is not None:
            env["OMNIROUTE_INSTANCE_ID"] = f"{self.instances}-{component.name}"
        # a child outlives an `up` that is SIGKILLed otherwise, and the next `up` would start
        # it again beside the old one, under the same instance id
        return subprocess.Popen(
            [sys.executable, "-m", "omniroute", *component.argv],
            env=env, stdin=subprocess.DEVNULL, preexec_fn=ends_with_parent(signal.SIGTERM),
        )

    def start(self, components: tuple[Component, ...]) -> None:
        """Start every component."""
        for component in components:
            if not component.available():
                self.say(f"skipping {component.name}: {component.requires} is not installed")
                continue
            self.say(f"starting {component.name}: omniroute {' '.join(component.argv)}")
            self.children.append(_Child(component, self._spawn(component)))

    def watch_services(self, now: float) -> None:
        """Start again a service that died (at once the first time, then waiting longer after
        each failed start). The components keep running meanwhile: they retry until it is
        back."""
        for service in self.services:
            if now < service.next_start or service.running():
                continue
            self.say(f"{service.name} is not running; starting it again")
            try:
                service.start()
            except Exception as exc:
                delay = min(30.0, 2.0 ** service.restarts)
                service.restarts += 1
                service.next_start = time.monotonic() + delay
                self.say(f"{service.name} did not start: {exc}; next try in {delay:.0f}s")
            else:
                service.restarts = 0
                self.say(f"{service.name} is running again")

    def watch_once(self, now: float) -> None:
        """Restart any service or component that exited, waiting longer after each crash."""
        self.watch_services(now)
        for child in self.children:
            code = child.process.poll()
            if code is None:
                continue
            if child.next_start == 0.0:
                delay = min(30.0, 2.0 ** child.restarts)
                child.next_start = now + delay
                self.say(f"{child.component.name} exited with code {code}; restart in {delay:.0f}s")
            elif now >= child.next_start:
                child.restarts += 1
                child.next_start = 0.0
                child.process = self._spawn(child.component)

    def stop_on_signal(self) -> None:
        """Let SIGINT and SIGTERM end :meth:`wait_ready` and :meth:`run_until_signal`."""
        def request_stop(_signum: int, _frame: object) -> None:
            self.stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

    def wait_ready(self, url_of: Callable[[Component], str], timeout: float,
                   poll: float = 0.5, every: float = 10.0) -> list[str]:
        """Supervise until every component answers 200 at ``url_of(component)``, saying
        every ``every`` seconds which are still starting; the names of those not ready
        after ``timeout`` seconds (or when stopped)."""
        waiting = {child.component.name: url_of(child.component) for child in self.children}
        started = said = time.monotonic()
        while waiting and not self.stopping:
            now = time.monotonic()
            self.watch_once(now)
            waiting = {name: url for name, url in waiting.items() if not _answers_ok(url)}
            if not waiting or now - started >= timeout:
                break
            if now - said >= every:
                said = now
                self.say(f"waiting for {', '.join(waiting)} to be ready ({now - started:.0f}s)")
            time.sleep(poll)
        return list(waiting)

    def run_until_signal(self) -> None:
        """Supervise until SIGINT or SIGTERM."""
        self.stop_on_signal()
        while not self.stopping:
            self.watch_once(time.monotonic())
            time.sleep(0.5)

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM every child, SIGKILL those still running after ``grace`` seconds."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                self.say(f"stopping {child.component.name}")
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


def _answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return int(answer.status) == 200
    except OSError:
        return False


def stack_instances(settings: Settings) -> str:
    """The prefix of the instance ids of one stack's processes: ``OMNIROUTE_INSTANCE_ID``
    when set, else this host and its state directory, so two stacks sharing a broker never
    claim each other's ids and the same stack started again takes its own back."""
    if settings.instance_id is not None:
        return settings.instance_id[:200]  # room for the process's name
    state = hashlib.sha256(str(settings.state_dir.resolve()).encode()).hexdigest()[:8]
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:63]  # Kafka's characters
    return f"{host}-{state}"


def child_environment(database_url: str) -> dict[str, str]:
    """The environment of every child: the parent's, pointed at the running database."""
    env = dict(os.environ)
    env["OMNIROUTE_DATABASE_URL"] = database_url
    return env
