"""Running the real ``omniroute`` command line as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import MutableMapping
from pathlib import Path

# the suite's own knobs; every other OMNIROUTE_* setting belongs to a user's stack
SUITE_KNOBS = ("OMNIROUTE_TEST_", "OMNIROUTE_FUZZ_")


def drop_shell_settings(environ: MutableMapping[str, str]) -> list[str]:
    """Remove the omniroute settings a shell exported, keeping the suite's own knobs.

    A shell that ran a stack (``source env.sh``) carries its provider URLs, keys, routing
    file and instance id. Read from the environment, they would give the tests that stack's
    behaviour instead of the defaults they assert, and one instance id would make several
    workers (or a router and its zombie) take each other's partitions in turn.
    """
    dropped = sorted(
        k for k in environ if k.startswith("OMNIROUTE_") and not k.startswith(SUITE_KNOBS)
    )
    for key in dropped:
        del environ[key]
    return dropped


def omniroute_env(**variables: str) -> dict[str, str]:
    """The current environment without OMNIROUTE_* settings, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}
    env.update(variables)
    return env


def run_omniroute(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``omniroute ARGS`` to completion, output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "omniroute", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
