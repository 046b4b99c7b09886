"""The embedded PostgreSQL's holders list forgets processes that died holding it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from omniroute.infra.postgres import forget_dead_holders


def _dead_pid() -> int:
    """The pid of a process that ran and was reaped."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_holder_that_died_is_forgotten_the_living_stay(tmp_path: Path) -> None:
    """A SIGKILLed holder never removes itself: left in the list, no exit is the last one,
    and Ctrl-C of `omniroute up` no longer stopped PostgreSQL (user run 14)."""
    holders = tmp_path / ".handle_pids.json"
    dead = _dead_pid()
    holders.write_text(json.dumps([dead, os.getpid()]))
    assert forget_dead_holders(tmp_path) == [dead]
    assert json.loads(holders.read_text()) == [os.getpid()]
    assert forget_dead_holders(tmp_path) == []  # nothing more to forget: the file stays


def test_no_holders_file_is_left_to_pgserver(tmp_path: Path) -> None:
    assert forget_dead_holders(tmp_path) == []
    assert not (tmp_path / ".handle_pids.json").exists()
