"""A benchmark's throwaway broker dies with the process that started it, even on SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from harness.ports import free_port

CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from omniroute.infra.broker import answering_broker
    from omniroute.settings import Settings
    home = Path(sys.argv[2])
    with answering_broker(sys.argv[1], Settings().cache_dir, home) as bootstrap:
        print((home / "broker.pid").read_text().strip(), flush=True)
        time.sleep(600)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) is gone for our purpose
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"


def test_the_throwaway_broker_dies_with_a_sigkilled_parent(tmp_path: Path) -> None:
    nobody = f"127.0.0.1:{free_port()}"  # nothing answers: answering_broker starts its own
    parent = subprocess.Popen([sys.executable, "-c", CHILD, nobody, str(tmp_path / "kafka")],
                              stdout=subprocess.PIPE, text=True)
    broker_pid = 0
    try:
        assert parent.stdout is not None
        broker_pid = int(parent.stdout.readline().strip() or 0)
        assert broker_pid and _alive(broker_pid), "the throwaway broker did not start"
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 20
        while _alive(broker_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(broker_pid), "the broker outlived its SIGKILLed parent"
    finally:
        parent.kill()
        if broker_pid and _alive(broker_pid):
            os.kill(broker_pid, signal.SIGKILL)
