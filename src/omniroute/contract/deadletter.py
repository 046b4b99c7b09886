"""DeadLetter: input a processor could not handle, kept with the reason.

Topic ``omniroute.dlq.v1``, key the source record's key. The original bytes
are kept exactly (base64), so an operator can fix and replay them.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Annotated

from pydantic import Field

from omniroute.contract.base import Envelope


class DeadLetter(Envelope):
    """One record a processor refused, and why."""

    processor: Annotated[str, Field(min_length=1, max_length=100)]
    source_topic: Annotated[str, Field(min_length=1, max_length=249)]
    source_partition: Annotated[int, Field(ge=0)]
    source_offset: Annotated[int, Field(ge=0)]
    source_key_b64: str | None = None
    original_b64: str
    error_type: Annotated[str, Field(min_length=1, max_length=200)]
    error: Annotated[str, Field(min_length=1, max_length=8000)]

    @classmethod
    def for_record(
        cls,
        *,
        processor: str,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        error: BaseException | str,
        error_type: str | None = None,
    ) -> DeadLetter:
        """Build the dead letter of one record; the id is stable for the same record."""
        digest = hashlib.sha256(f"{processor}|{topic}|{partition}|{offset}".encode()).hexdigest()
        message = str(error) or type(error).__name__
        return cls(
            event_id=f"dlq:{digest[:32]}",
            processor=processor,
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            source_key_b64=base64.b64encode(key).decode() if key is not None else None,
            original_b64=base64.b64encode(value or b"").decode(),
            error_type=error_type
            or (type(error).__name__ if isinstance(error, BaseException) else "Rejected"),
            error=message[:8000],
        )
