"""Python warnings from libraries are log lines like any other (JSON under ``omniroute up``)."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import warnings
from omniroute.observability.logs import configure_logging
from omniroute.settings import LogFormat
configure_logging("info", LogFormat.JSON)
warnings.warn("The HMAC key is 29 bytes long", UserWarning, stacklevel=1)
"""


def test_a_library_warning_is_a_json_log_line() -> None:
    """A user run's up.log had PyJWT's InsecureKeyLengthWarning as two bare text lines
    among the JSON ones (a log shipper parsing JSON drops or mangles them)."""
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=60, check=True)
    lines = done.stderr.splitlines()
    assert lines, done
    [line] = lines
    record = json.loads(line)
    assert (record["level"], record["logger"]) == ("warning", "py.warnings")
    assert "UserWarning: The HMAC key is 29 bytes long" in record["event"]
