"""The README documents what users need: every setting, every command."""

from __future__ import annotations

import re
from pathlib import Path

from omniroute.cli import COMMAND_MODULES
from omniroute.settings import Settings

README = (Path(__file__).resolve().parents[3] / "README.md").read_text()


class TestReadme:
    def test_every_setting_is_in_the_configuration_table(self) -> None:
        """A setting users cannot find is a setting they cannot use."""
        table = README[README.index("## Configuration"):README.index("## Observability")]
        documented = set(re.findall(r"OMNIROUTE_[A-Z0-9_]+", table))
        missing = {f"OMNIROUTE_{name.upper()}" for name in Settings.model_fields} - documented
        assert not missing

    def test_every_command_is_listed(self) -> None:
        """Each top-level command appears in the commands table."""
        for command in COMMAND_MODULES:
            assert f"`omniroute {command}" in README, command

    def test_quick_start_is_two_commands(self) -> None:
        """One command runs omniroute, one runs the tests."""
        block = README[README.index("## Quick start"):].split("```sh\n", 1)[1].split("```", 1)[0]
        assert [line.split()[0:2] for line in block.strip().splitlines()] == [["make", "up"], ["make", "test"]]
