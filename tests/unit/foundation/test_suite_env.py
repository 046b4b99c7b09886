"""The test session ignores the omniroute settings of the shell it was started from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import drop_shell_settings

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]


def test_drops_settings_and_keeps_the_suites_knobs() -> None:
    environ = {
        "OMNIROUTE_INSTANCE_ID": "vm-1234-worker",
        "OMNIROUTE_ROUTING_CONFIG": "/tmp/userrun/routing.toml",
        "OMNIROUTE_TEST_KAFKA_BOOTSTRAP": "127.0.0.1:9092",
        "OMNIROUTE_FUZZ_EXAMPLES": "400",
        "PATH": "/usr/bin",
    }
    assert drop_shell_settings(environ) == ["OMNIROUTE_INSTANCE_ID", "OMNIROUTE_ROUTING_CONFIG"]
    assert environ == {
        "OMNIROUTE_TEST_KAFKA_BOOTSTRAP": "127.0.0.1:9092",
        "OMNIROUTE_FUZZ_EXAMPLES": "400",
        "PATH": "/usr/bin",
    }


def test_the_session_sees_no_shell_settings() -> None:
    leaked = [
        k
        for k in os.environ
        if k.startswith("OMNIROUTE_") and not k.startswith(("OMNIROUTE_TEST_", "OMNIROUTE_FUZZ_"))
    ]
    assert leaked == []


def test_a_session_started_from_a_stacks_shell_runs_on_defaults() -> None:
    """What a user's ``source env.sh`` exported does not reach a test (it did: 18 failures)."""
    env = {
        **os.environ,
        "OMNIROUTE_INSTANCE_ID": "vm-1234-worker",
        "OMNIROUTE_KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "OMNIROUTE_FUZZ_EXAMPLES": "3",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"{Path(__file__).relative_to(REPO)}::test_the_session_sees_no_shell_settings",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert "1 passed" in run.stdout
