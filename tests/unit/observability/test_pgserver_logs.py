"""The embedded PostgreSQL library (pgserver) logs its warnings and errors, not its chatter."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import logging
import sys
from omniroute.observability.logs import configure_logging
from omniroute.settings import LogFormat
configure_logging(sys.argv[1], LogFormat.JSON)
pgserver = logging.getLogger("pgserver")
pgserver.debug("Using socket path: /tmp/state/postgres")
pgserver.info("exiting 8255 remaining pids=[7658, 8255]")
pgserver.info("Running commandline: pg_ctl -D /tmp/state/postgres -w stop")
pgserver.warning("Failed to stop server, killing it instead.")
pgserver.error("Failed to start server.")
"""


def pgserver_lines(level: str) -> list[tuple[str, str]]:
    """(level, event) of each line pgserver's logger wrote with logging set to ``level``."""
    done = subprocess.run([sys.executable, "-c", SCRIPT, level], capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout == ""
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert all(record["logger"] == "pgserver" for record in records), done.stderr
    return [(record["level"], record["event"]) for record in records]


class TestPgserverLogLevel:
    def test_info_lines_are_left_out_warnings_and_errors_kept(self) -> None:
        """A user run's `omniroute kb import` ended with pgserver's "exiting ... remaining
        pids" and "Running commandline: ... pg_ctl" lines; its warnings and errors still show."""
        assert pgserver_lines("info") == [
            ("warning", "Failed to stop server, killing it instead."),
            ("error", "Failed to start server."),
        ]

    def test_debug_logging_does_not_bring_the_chatter_back(self) -> None:
        """OMNIROUTE_LOG_LEVEL=debug is for omniroute's own lines; pgserver stays at WARNING."""
        assert [level for level, _ in pgserver_lines("debug")] == ["warning", "error"]

    def test_a_higher_level_still_applies(self) -> None:
        """OMNIROUTE_LOG_LEVEL=error leaves pgserver's warnings out as well."""
        assert pgserver_lines("error") == [("error", "Failed to start server.")]
