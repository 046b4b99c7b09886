"""`omniroute up` as a subprocess for end-to-end tests, on the session's broker and database."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness.cli import omniroute_env
from harness.ports import free_port, free_port_block
from omniroute.stack import COMPONENTS


@dataclass
class RunningStack:
    """A running `omniroute up` and the environment it was started with."""

    process: subprocess.Popen[str]
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)

    def port(self, name: str) -> int:
        """A port setting of the stack, e.g. ``port("INGRESS")``."""
        return int(self.env[f"OMNIROUTE_{name}_PORT"])

    def log_tail(self, count: int = 40) -> str:
        """The last lines `omniroute up` and its processes wrote."""
        return "".join(self.lines[-count:])

    def kill(self, component: str) -> int:
        """SIGKILL the stack's ``component`` process (`up` starts it again); its pid."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:  # gone meanwhile
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == self.process.pid and argv[1:4] == [b"-m", b"omniroute",
                                                            component.encode()]:
                os.kill(int(entry.name), signal.SIGKILL)
                return int(entry.name)
        raise AssertionError(f"no {component} process under omniroute up\n{self.log_tail()}")

    def saw(self, text: str, timeout: float = 10) -> bool:
        """Whether a line containing ``text`` was written (waiting up to ``timeout``)."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True


def stack_env(*, kafka_bootstrap: str, namespace: str, database_url: str, state_dir: Path,
              **extra: str) -> dict[str, str]:
    """Settings for a stack sharing the session broker (own namespace) and a test database."""
    env = omniroute_env(
        OMNIROUTE_KAFKA_BOOTSTRAP=kafka_bootstrap,
        OMNIROUTE_TOPIC_NAMESPACE=namespace,
        OMNIROUTE_DATABASE_URL=database_url,
        OMNIROUTE_STATE_DIR=str(state_dir),
        OMNIROUTE_LOG_FORMAT="json",
    )
    for name in ("INGRESS", "GATEWAY", "SMTP", "PROMETHEUS"):
        env[f"OMNIROUTE_{name}_PORT"] = str(free_port())
    # the n-th process serves metrics on METRICS + n
    env["OMNIROUTE_METRICS_PORT"] = str(free_port_block(len(COMPONENTS)))
    env.update(extra)
    return env


@contextmanager
def running_stack(env: dict[str, str], timeout: float = 240) -> Iterator[RunningStack]:
    """Start `omniroute up`, wait for "omniroute is up", and Ctrl-C it afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "omniroute", "up"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    stack = RunningStack(process, env)
    arrived: queue.Queue[str] = queue.Queue()

    log_path = Path(env["OMNIROUTE_STATE_DIR"]) / "up.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)

    def pump() -> None:
        assert process.stderr is not None
        with log_path.open("w") as log:
            for line in process.stderr:
                log.write(line)
                log.flush()
                stack.lines.append(line)
                arrived.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if "omniroute is up" in arrived.get(timeout=0.5):
                    break
            except queue.Empty:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"omniroute up did not come up:\n{stack.log_tail()}")
        yield stack
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
