"""omniroute processes started one by one, so a test can SIGKILL and restart any of them.

`omniroute up` runs one process of each kind; a fleet runs the same commands
with the same settings, any number of each (``router run --instance rN`` for
routers), and restarts a killed process the way the supervisor does.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.ports import free_port


@dataclass
class Fleet:
    """Processes sharing one environment; logs in ``logs/<name>.log``."""

    env: dict[str, str]
    logs: Path
    argv: dict[str, tuple[str, ...]] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *argv: str) -> None:
        """Start ``omniroute ARGV`` as process ``name`` (its own metrics port)."""
        self.argv[name] = argv
        env = {**self.env, "OMNIROUTE_METRICS_PORT": str(free_port())}
        log = (self.logs / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "omniroute", *argv], env=env, stdin=subprocess.DEVNULL,
            stdout=log, stderr=log)

    def kill(self, name: str) -> None:
        """SIGKILL process ``name``: no shutdown, no final commit."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def restart(self, name: str) -> None:
        """Start process ``name`` again with the command it had."""
        self.start(name, *self.argv[name])

    def assert_running(self) -> None:
        """Fail with the log's tail when a process exited on its own."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"{name} exited with {process.returncode}:\n{tail}")

    def stop_all(self) -> None:
        """SIGTERM everything, SIGKILL what lingers."""
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
