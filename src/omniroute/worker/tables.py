"""Changelog-backed tables of pydantic models, decoded once per write.

A :class:`ModelTable` stores each value as the model's JSON bytes (the
changelog record is exactly that JSON, with no second encoding by faust) and
keeps the decoded model beside the bytes it came from. Reading a key this
process wrote last returns the cached model without parsing; a value restored
from the changelog (after a restart or a rebalance) is a different bytes
object, so it is parsed and validated like any input. The hot path thus pays
one ``model_dump_json`` per write and no validation per read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)
CACHE_LIMIT = 200_000
"""Decoded models kept per table; past this the cache starts over (it only saves parsing)."""


class ModelTable(Generic[Model]):
    """A faust table of ``model`` values (raw JSON bytes in the changelog)."""

    def __init__(self, table: Any, model: type[Model]) -> None:
        self.table = table
        self.model = model
        self._decoded: dict[str, tuple[bytes, Model]] = {}

    def get(self, key: str) -> Model | None:
        """The model stored under ``key``, or None."""
        raw = self.table.get(key)
        if raw is None:
            self._decoded.pop(key, None)
            return None
        cached = self._decoded.get(key)
        if cached is not None and cached[0] is raw:
            return cached[1]
        value = (self.model.model_validate_json(raw) if isinstance(raw, bytes)
                 else self.model.model_validate(raw))
        if len(self._decoded) >= CACHE_LIMIT:
            self._decoded.clear()
        self._decoded[key] = (raw, value)
        return value

    def values(self) -> Iterator[Model]:
        """Every stored model (of the partitions this process holds)."""
        for key in list(self.table.keys()):
            value = self.get(key)
            if value is not None:
                yield value

    def set(self, key: str, value: Model) -> None:
        """Store ``value`` under ``key`` (one changelog record)."""
        raw = value.model_dump_json().encode()
        self.table[key] = raw
        if len(self._decoded) >= CACHE_LIMIT:
            self._decoded.clear()
        self._decoded[key] = (raw, value)
