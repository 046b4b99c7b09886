"""Pure parts of the local broker's management."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omniroute.errors import ConfigurationError
from omniroute.infra.broker import _alive, new_cluster_id
from omniroute.infra.probe import parse_local_bootstrap


class TestClusterId:
    def test_never_starts_with_a_dash(self) -> None:
        """About one id in 64 would, and the storage tool would take it for an option."""
        ids = [new_cluster_id() for _ in range(5000)]
        assert not [i for i in ids if i.startswith("-")]

    def test_is_sixteen_bytes_of_url_safe_base64(self) -> None:
        """The form `kafka-storage random-uuid` prints."""
        cluster_id = new_cluster_id()
        assert len(cluster_id) == 22
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


class TestLocalBootstrap:
    def test_local_addresses_are_accepted(self) -> None:
        """The first server of the list is the one a local broker listens on."""
        assert parse_local_bootstrap("127.0.0.1:19092,127.0.0.1:19093") == ("127.0.0.1", 19092)
        assert parse_local_bootstrap("localhost:9092") == ("localhost", 9092)

    def test_a_remote_cluster_is_not_started_here(self) -> None:
        """omniroute refuses to 'start' a broker for an address on another machine."""
        with pytest.raises(ConfigurationError, match="not a local address"):
            parse_local_bootstrap("kafka.prod.internal:9092")


def test_a_zombie_is_not_a_running_broker() -> None:
    """A process that exited but whose parent has not reaped it (a broker `omniroute up`
    started and that was SIGKILLed, seen from another shell) is not running: `omniroute
    kafka start` said "already running" and started nothing."""
    # a parent that never reaps its child (sh -c "true & ...; exec sleep" sometimes reaped
    # it before the exec, and the test then found no process at all)
    parent = subprocess.Popen(
        [sys.executable, "-c", "import os, time\npid = os.fork()\nif pid == 0:\n    os._exit(0)\n"
         "print(pid, flush=True)\ntime.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        zombie = int(parent.stdout.readline())
        deadline = time.monotonic() + 10
        while "Z" not in Path(f"/proc/{zombie}/stat").read_text().rpartition(")")[2].split()[:1]:
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.05)
        os.kill(zombie, 0)  # the signal check alone still finds it
        assert not _alive(zombie)
        assert _alive(parent.pid)
    finally:
        parent.kill()
        parent.wait()
