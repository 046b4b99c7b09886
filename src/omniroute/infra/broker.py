"""A local Apache Kafka broker (KRaft, one combined broker/controller), run by omniroute.

The jars come from Maven Central through ``deploy/kafka/fetch.sh`` and are cached
under the cache directory; storage is formatted once under the state directory.
``start`` returns when the broker answers a metadata request; ``stop`` shuts it
down cleanly (SIGTERM, then SIGKILL only after a grace period).
"""

from __future__ import annotations

import asyncio
import base64
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from omniroute.errors import BrokerError
from omniroute.infra.jars import fetch_jars
from omniroute.infra.probe import probe


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding.

    Like Kafka's own ``Uuid.randomUuid()``, never one starting with ``-``: the
    storage tool would read it as an option and fail ("expected one argument").
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@dataclass(frozen=True)
class BrokerStatus:
    """What ``omniroute kafka status`` reports."""

    pid: int | None
    healthy: bool
    brokers: int = 0
    topics: int = 0
    detail: str = ""


LOG4J2 = """\
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {logs}/server.log
appender.file.filePattern = {logs}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.controller.name = org.apache.kafka.controller
logger.controller.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


@dataclass
class LocalBroker:
    """One KRaft broker/controller process under ``home``."""

    home: Path
    libs: Path
    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int | None = None
    heap: str = "512m"
    default_partitions: int = 6
    ephemeral: bool = False
    """Killed with the process that started it, even when that one is SIGKILLed (Linux):
    the throwaway broker of a benchmark or a test session. A broker ``omniroute up`` or
    ``omniroute kafka start`` runs outlives them by design (the next start reuses it)."""

    @property
    def bootstrap(self) -> str:
        """The bootstrap address clients use."""
        return f"{self.host}:{self.port}"

    @property
    def _pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def _log_file(self) -> Path:
        return self.home / "logs" / "stdout.log"

    def _controller_port(self) -> int:
        return self.controller_port or self.port + 1

    def _write_config(self) -> Path:
        data, logs, config = self.home / "data", self.home / "logs", self.home / "config"
        for directory in (data, logs, config):
            directory.mkdir(parents=True, exist_ok=True)
        cport = self._controller_port()
        properties = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{cport}",
            "listeners": f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{cport}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": str(self.default_partitions),
            "num.network.threads": "2",
            "num.io.threads": "4",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "6",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "168",
            # delete aged segments within seconds (personal-data retention, docs/privacy.md)
            "log.retention.check.interval.ms": "5000",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        path = config / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
        (config / "log4j2.properties").write_text(LOG4J2.format(logs=logs))
        return path

    def _java(self, main: str, *args: str, heap: str = "256m") -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise BrokerError("Java is not installed", hint="install OpenJDK 17 or newer")
        return [
            java,
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'config' / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def _format_storage(self, config: Path) -> None:
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id = new_cluster_id()
        result = subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError(f"formatting KRaft storage failed: {result.stderr.strip()[-500:]}")

    def pid(self) -> int | None:
        """The broker's pid if it is running."""
        try:
            pid = int(self._pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def start(self, timeout: float = 90.0, progress: Callable[[str], None] = print,
              ports_grace: float = 0.0) -> int:
        """Start the broker and wait until it answers metadata; return its pid. Its ports
        must be free, after up to ``ports_grace`` seconds (a broker just killed may still
        hold them while the kernel tears it down)."""
        running = self.pid()
        if running is not None:
            progress(f"kafka already running (pid {running}) at {self.bootstrap}")
            return running
        ports = (self.port, self._controller_port())
        deadline = time.monotonic() + ports_grace
        while any(_port_open(self.host, p) for p in ports) and time.monotonic() < deadline:
            time.sleep(0.2)
        for port in ports:
            if _port_open(self.host, port):
                raise BrokerError(
                    f"port {self.host}:{port} is already in use by another process",
                    hint="stop it, or set OMNIROUTE_KAFKA_BOOTSTRAP to a free port",
                )
        config = self._write_config()
        self._format_storage(config)
        progress(f"starting kafka at {self.bootstrap} (heap {self.heap})...")
        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        with self._log_file.open("ab") as out:
            process = subprocess.Popen(
                self._java("kafka.Kafka", str(config), heap=self.heap),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=ends_with_parent() if self.ephemeral else None,
            )
        self._pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BrokerError(
                    f"kafka exited with code {process.returncode} while starting: {self._tail()}",
                    hint=f"see {self.home / 'logs'}",
                )
            if not _port_open(self.host, self.port):
                time.sleep(0.3)
                continue
            try:
                asyncio.run(probe(self.bootstrap, timeout=3.0, expect_none=True))
            except BrokerError:
                time.sleep(0.5)
                continue
            progress(f"kafka ready at {self.bootstrap} (pid {process.pid})")
            return process.pid
        self.stop()
        raise BrokerError(f"kafka did not answer within {timeout:.0f}s", hint=self._tail())

    def stop(self, timeout: float = 60.0, progress: Callable[[str], None] = print) -> bool:
        """Stop the broker cleanly; True if one was running."""
        pid = self.pid()
        if pid is None:
            return False
        progress(f"stopping kafka (pid {pid})...")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
            progress("kafka did not stop in time; killed")
        self._pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """SIGKILL the broker (for failure tests): no clean shutdown."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
            self._pid_file.unlink(missing_ok=True)

    def status(self) -> BrokerStatus:
        """Whether the broker runs here and answers metadata."""
        pid = self.pid()
        try:
            brokers, topics = asyncio.run(probe(self.bootstrap, timeout=3.0))
        except BrokerError as exc:
            return BrokerStatus(pid=pid, healthy=False, detail=str(exc))
        return BrokerStatus(pid=pid, healthy=True, brokers=brokers, topics=topics)

    def _tail(self, lines: int = 5) -> str:
        for path in (self.home / "logs" / "server.log", self._log_file):
            if path.exists():
                text = path.read_text(errors="replace").strip().splitlines()
                errors = [line for line in text if "ERROR" in line or "Exception" in line]
                return " / ".join((errors or text)[-lines:])
        return "no log written"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs: reaped here if it is our child that exited; a zombie (exited,
    its parent has not reaped it: a broker ``omniroute up`` started, seen from another
    shell) is not running."""
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here: signal 0 is all we know
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def ends_with_parent(signum: int = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn`` asking the kernel to send the child ``signum`` when its parent dies
    (Linux), SIGKILL of the parent included.

    libc is loaded here, before the fork: the child only makes the one system call.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signum)
        if os.getppid() != parent:  # the parent died before the call
            os.kill(os.getpid(), signum)

    return arm


PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def answering_broker(bootstrap: str, cache_dir: Path, home: Path) -> Iterator[str]:
    """A broker to measure against: ``bootstrap`` if it answers, else a throwaway local one.

    The throwaway broker lives under ``home`` on free ports and is stopped on exit;
    benchmarks use this so they run the same on a developer's stack and on a bare machine.
    """
    try:
        asyncio.run(probe(bootstrap, timeout=2))
    except BrokerError:
        pass
    else:
        yield bootstrap
        return
    broker = LocalBroker(home=home, libs=fetch_jars(cache_dir), port=free_port(),
                         controller_port=free_port(), heap="512m", ephemeral=True)
    broker.start(progress=lambda _line: None)
    try:
        yield broker.bootstrap
    finally:
        broker.stop(progress=lambda _line: None)
