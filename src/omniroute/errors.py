"""omniroute's exceptions: one rooted tree.

    OmnirouteError
    ├── ConfigurationError        a setting is missing, malformed or unsafe
    ├── InfrastructureError       a real part (Kafka, PostgreSQL, Java, Maven) failed  [retriable]
    │   ├── BrokerError
    │   └── DatabaseError
    │       └── MigrationError    a migration failed or an applied one was edited   [not retriable]
    └── RejectedInput             input that cannot be processed (goes to the DLQ / a 4xx)

Library errors are translated at the adapter boundary with ``raise ... from exc``.
Retry decisions branch on :attr:`OmnirouteError.retriable`, never on the type.
"""

from __future__ import annotations


class OmnirouteError(Exception):
    """Root of every error omniroute raises on purpose."""

    retriable: bool = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class ConfigurationError(OmnirouteError):
    """A setting is missing, malformed or unsafe."""


class InfrastructureError(OmnirouteError):
    """A real part omniroute depends on failed or cannot be reached."""

    retriable = True


class BrokerError(InfrastructureError):
    """The Kafka broker cannot be started, reached or administered."""


class DatabaseError(InfrastructureError):
    """PostgreSQL cannot be started or reached."""


class MigrationError(DatabaseError):
    """A migration failed, or a migration already applied was changed."""

    retriable = False


class RejectedInput(OmnirouteError):
    """Input that cannot be processed: bad bytes, a schema violation, a bad request."""
