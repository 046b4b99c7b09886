"""Running the real ``omniroute`` command line as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


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
