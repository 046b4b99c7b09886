"""One ``omniroute up`` per state directory.

A second one would find the first one's broker answering, use it, and start every
process again under the same instance ids; two processes with one id take each other's
partitions in turn (docs/operations.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from omniroute.cli.up import hold_state_dir
from omniroute.errors import ConfigurationError


def test_a_second_up_on_the_same_state_directory_is_refused_and_names_the_first(
    tmp_path: Path,
) -> None:
    held = hold_state_dir(tmp_path)
    env = {**os.environ, "OMNIROUTE_STATE_DIR": str(tmp_path),
           "OMNIROUTE_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    second = subprocess.run([sys.executable, "-m", "omniroute", "up"], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert second.returncode == 2, second.stderr
    assert f"omniroute is already running from {tmp_path} (omniroute up, pid {os.getpid()})" \
        in second.stderr
    assert not (tmp_path / "kafka").exists()  # it started nothing
    held.close()


def test_the_directory_is_free_again_once_its_holder_is_gone(tmp_path: Path) -> None:
    held = hold_state_dir(tmp_path)
    with pytest.raises(ConfigurationError):
        hold_state_dir(tmp_path)
    held.close()  # as when the process ends, SIGKILL included
    hold_state_dir(tmp_path).close()
    hold_state_dir(tmp_path / "other").close()
