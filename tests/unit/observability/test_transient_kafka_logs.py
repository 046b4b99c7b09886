"""aiokafka's retried coordinator answers are logged as warnings, real failures as errors."""

from __future__ import annotations

import logging

from omniroute.observability.logs import RepeatedByAiokafka, RetriedByAiokafka


def level_after_filter(name: str, message: str) -> str:
    record = logging.LogRecord(name, logging.ERROR, __file__, 1, message, None, None)
    assert RetriedByAiokafka().filter(record)
    return record.levelname


def test_a_coordinator_not_yet_available_is_a_warning() -> None:
    assert level_after_filter(
        "aiokafka.consumer.group_coordinator",
        "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError",
    ) == "WARNING"


def test_other_errors_stay_errors() -> None:
    assert level_after_filter("aiokafka.producer", "Unable to send: [Error 10] "
                              "MessageSizeTooLargeError") == "ERROR"
    assert level_after_filter("omniroute.router",
                              "GroupCoordinatorNotAvailable seen by us") == "ERROR"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(name: str, template: str, *args: object,
           level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, template, args or None, None)


def test_a_broker_outage_logs_one_line_per_template_and_window() -> None:
    """A broker away for 20 s made aiokafka log ~30,000 ERROR lines under `omniroute up`:
    each logger and message template passes once per 10 s, and the next line says how many
    were left out; other templates, and omniroute's own lines, are never held back."""
    clock = Clock()
    repeated = RepeatedByAiokafka(window_s=10.0, clock=clock)
    connect = "Unable connect to node with id %s: %s"
    passed = []
    for n in range(1000):  # 100 attempts a second for 10 s
        clock.now = n * 0.01
        passed += [r for r in [record("aiokafka", connect, 1, f"refused {n}")]
                   if repeated.filter(r)]
    assert [r.getMessage() for r in passed] == ["Unable connect to node with id 1: refused 0"]
    assert repeated.filter(record("aiokafka", "Unable to update metadata from %s", [1]))
    assert repeated.filter(record("aiokafka.consumer.fetcher", connect, 1, "x"))
    assert all(repeated.filter(record("omniroute.router", connect, 1, "ours"))
               for _ in range(5))
    assert all(repeated.filter(record("aiokafka", connect, 1, "info", level=logging.INFO))
               for _ in range(5))
    clock.now = 10.0
    later = record("aiokafka", connect, 1, "refused again")
    assert repeated.filter(later)
    assert later.getMessage() == ("Unable connect to node with id 1: refused again "
                                  "(999 more like this in the last 10 s not logged)")
    clock.now = 10.5
    assert not repeated.filter(record("aiokafka", connect, 1, "still"))
