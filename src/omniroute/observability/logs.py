"""structlog, configured once per process.

JSON lines when stderr is not a terminal (or ``OMNIROUTE_LOG_FORMAT=json``),
coloured console output on a terminal. Correlation ids (event id, conversation
id, channel) are bound with :func:`bind` and ride along in contextvars.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import structlog

from omniroute.observability.redaction import redact_addresses
from omniroute.settings import LogFormat

_configured = False


def configure_logging(level: str = "info", fmt: LogFormat = LogFormat.AUTO) -> None:
    """Route structlog and the standard library's logging to one renderer on stderr."""
    global _configured
    use_json = fmt is LogFormat.JSON or (fmt is LogFormat.AUTO and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_addresses,
                renderer,
            ],
        )
    )
    handler.addFilter(RetriedByAiokafka())
    handler.addFilter(RepeatedByAiokafka())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # a library's warnings.warn is a log line too, not bare text
    # libraries that chatter at INFO about every connection; pgserver (the embedded
    # PostgreSQL) about every pg_ctl it runs and every process that lets go of the server
    # ("exiting 8255 remaining pids=[7658, 8255]"), at the end of each one-shot command too.
    # Their warnings and errors still show (pgserver's failed start quotes the server log).
    for noisy in ("aiokafka", "kafka", "asyncio", "pgserver"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    _configured = True


class RetriedByAiokafka(logging.Filter):
    """aiokafka logs at ERROR the coordinator answers it simply retries (every first
    start of a broker answers GroupCoordinatorNotAvailable until ``__consumer_offsets``
    exists): they are warnings, so an error in the log still means something failed."""

    TRANSIENT = ("GroupCoordinatorNotAvailable", "NotCoordinator",
                 "CoordinatorLoadInProgress")

    def filter(self, record: logging.LogRecord) -> bool:
        if (record.levelno == logging.ERROR and record.name.startswith("aiokafka")
                and any(name in record.getMessage() for name in self.TRANSIENT)):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class RepeatedByAiokafka(logging.Filter):
    """aiokafka logs every failed attempt while a broker is away: with the broker SIGKILLed
    for 20 s under ``omniroute up``, its clients wrote about 30,000 ERROR lines ("Unable
    connect to node with id 1", "Unable to update metadata", one per retry and client).
    One line per logger and message template passes every ``window_s`` seconds; the next
    one to pass says how many like it were left out. Other loggers are never held back."""

    def __init__(self, window_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window_s = window_s
        self.clock = clock
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("aiokafka") or record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        shown, held = self._last.get(key, (float("-inf"), 0))
        if now - shown < self.window_s:
            self._last[key] = (shown, held + 1)
            return False
        self._last[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like this in the last " \
                         f"{now - shown:.0f} s not logged)"
        return True


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger; safe before configuration (it then uses defaults)."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger


def bind(**ids: Any) -> None:
    """Bind correlation ids for every log line of the current task."""
    structlog.contextvars.bind_contextvars(**ids)


def unbind(*names: str) -> None:
    """Forget correlation ids bound by :func:`bind`."""
    structlog.contextvars.unbind_contextvars(*names)


class Binding:
    """Correlation ids a loop binds for each item it handles (a worker: a record's
    processor, partition and offset) and unbinds when it is done with many: :meth:`bind`
    sets only the ids whose value changed (structlog's context variables, found by the
    first call), :meth:`unbind` is :func:`unbind` of them all. Between two items the
    previous item's ids stay bound, so the loop unbinds before anything else logs."""

    def __init__(self, *names: str) -> None:
        self.names = names
        self.variables: list[ContextVar[Any]] = []

    def bind(self, *values: Any) -> None:
        """Bind ``values`` to the names, in order."""
        if not self.variables:
            tokens = structlog.contextvars.bind_contextvars(**dict(zip(self.names, values,
                                                                       strict=True)))
            self.variables = [tokens[name].var for name in self.names]
            return
        for variable, value in zip(self.variables, values, strict=True):
            if variable.get() != value:
                variable.set(value)

    def unbind(self) -> None:
        """Remove the names from the context."""
        unbind(*self.names)
