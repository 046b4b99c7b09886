"""The code passes its own linters: ruff everywhere, mypy strict on src/ (pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


class TestLint:
    def test_ruff_finds_nothing(self) -> None:
        """`ruff check` over the source, connectors, tests and benchmarks."""
        result = subprocess.run(
            [str(BIN / "ruff"), "check", "--no-cache", "src", "connectors", "tests", "bench"],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )
        assert result.returncode == 0, result.stdout[-4000:]

    def test_mypy_strict_finds_nothing(self, tmp_path: Path) -> None:
        """`mypy` with the strict configuration in pyproject.toml."""
        result = subprocess.run(
            [str(BIN / "mypy"), "--cache-dir", str(tmp_path / "mypy")],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )
        assert result.returncode == 0, result.stdout[-4000:]
