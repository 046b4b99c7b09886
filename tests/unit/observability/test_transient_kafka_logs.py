"""aiokafka's retried coordinator answers are logged as warnings, real failures as errors."""

from __future__ import annotations

import logging

from omniroute.observability.logs import RetriedByAiokafka


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
