"""The batch engine's tables: in memory per partition number, made durable per transaction.

A :class:`Table` holds, for each partition number *p* this process owns, the
fold of partition *p* of its compacted changelog topic. Reads and writes use the
partition of the record being handled (:data:`CURRENT`, set by the loop), the way
faust's tables are co-partitioned with their sources. A write changes the dict at
once and marks the key dirty; when *p*'s transaction commits, the loop sends the
dirty keys' final values (:meth:`Table.changes`) to changelog partition *p* in the
same transaction as *p*'s outputs and offsets, so a key written by many records of
one batch costs one changelog record. Values are JSON, as faust's; keys are UTF-8,
where faust wrote them JSON-encoded (``"cus_1"`` with the quotes). A restore
reads both forms as the same key (:func:`key_of`), so the tables of a deployment
that ran faust carry over; the first write of a key restored in faust's form
tombstones that form first, so compaction cannot bring faust's value back after
a later delete.

A :class:`ModelTable` keeps pydantic models in memory and their JSON bytes in the
changelog: a model is encoded once per key and batch (its final value); a value
restored from the changelog is parsed once, when first read.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)
Change = tuple[bytes, bytes | None]
"""A changelog record of one partition: (key, value or None for a deleted key)."""


@dataclass
class Pending:
    """What the batch of one partition number has produced so far (its transaction's body)."""

    partition: int
    records: list[tuple[str, bytes | None, bytes, str | None]] = field(default_factory=list)
    """(topic before namespacing, key, value, channel) sent by the handlers."""


CURRENT: ContextVar[Pending | None] = ContextVar("omniroute_worker_partition", default=None)
"""The partition number whose record is being handled (None in timers and tasks)."""


def key_of(raw: bytes) -> tuple[str, bool]:
    """A changelog key as the table's key, and whether it was in faust's (JSON) form."""
    if raw[:1] == b'"' and raw[-1:] == b'"' and len(raw) > 1:
        try:
            decoded = json.loads(raw)
        except ValueError:
            return raw.decode(), False
        if isinstance(decoded, str):
            return decoded, True
    return raw.decode(), False


def faust_key(key: str) -> bytes:
    """``key`` in faust's form (JSON), as the faust worker wrote it to a changelog."""
    return json.dumps(key).encode()


def json_value(value: Any) -> bytes:
    """A plain table's value as changelog bytes (faust's JSON codec)."""
    return json.dumps(value, separators=(",", ":")).encode()


def model_value(value: Any) -> bytes:
    """A model table's value as changelog bytes (a model, or bytes never parsed)."""
    return value if isinstance(value, bytes) else bytes(value.model_dump_json().encode())


class Table(MutableMapping[str, Any]):
    """A changelog-backed mapping over the current record's partition (see module doc)."""

    def __init__(self, name: str, changelog: str, partitions: int,
                 encode: Callable[[Any], bytes] = json_value,
                 decode: Callable[[bytes], Any] = json.loads) -> None:
        self.name = name
        self.changelog = changelog
        """The full (namespaced) changelog topic."""
        self.partitions = partitions
        self.encode = encode
        self.decode = decode
        self.parts: dict[int, dict[str, Any]] = {}
        self.dirty: dict[int, set[str]] = {}
        self.faust_keys: dict[int, set[str]] = {}
        """Keys whose record in faust's key form is a value (no tombstone of that form yet)."""

    @staticmethod
    def _current() -> int:
        pending = CURRENT.get()
        if pending is None:
            raise RuntimeError("a table is written outside a record (timers only read)")
        return pending.partition

    def _part(self) -> dict[str, Any]:
        pending = CURRENT.get()
        if pending is None:  # a timer: every partition this process owns
            merged: dict[str, Any] = {}
            for part in self.parts.values():
                merged.update(part)
            return merged
        return self.parts.setdefault(pending.partition, {})

    def __getitem__(self, key: str) -> Any:
        return self._part()[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key`` in the current partition, else ``default``."""
        return self._part().get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        partition = self._current()
        self.parts.setdefault(partition, {})[key] = value
        self.dirty.setdefault(partition, set()).add(key)

    def __delitem__(self, key: str) -> None:
        partition = self._current()
        del self.parts.setdefault(partition, {})[key]
        self.dirty.setdefault(partition, set()).add(key)

    def __contains__(self, key: object) -> bool:
        return key in self._part()

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._part()))

    def __len__(self) -> int:
        return len(self._part())

    def keep(self, key: str, value: Any) -> None:
        """Replace a value by an equivalent one (its parsed form), no changelog record."""
        pending = CURRENT.get()
        for partition, part in self.parts.items():
            if (pending is None or pending.partition == partition) and key in part:
                part[key] = value

    def all_items(self) -> Iterator[tuple[str, Any]]:
        """Every (key, value) of every partition this process owns."""
        for part in list(self.parts.values()):
            yield from list(part.items())

    def changes(self, partition: int) -> list[Change]:
        """The changelog records of ``partition``'s writes since the last call."""
        part = self.parts.get(partition, {})
        foreign = self.faust_keys.get(partition, set())
        found: list[Change] = []
        for key in sorted(self.dirty.pop(partition, ())):
            if key in foreign:  # before the new record: a restore folds them in order
                found.append((faust_key(key), None))
                foreign.discard(key)
            value = part.get(key)
            found.append((key.encode(), None if value is None else self.encode(value)))
        return found

    def restore(self, partition: int, records: Iterator[tuple[bytes, bytes | None]]) -> int:
        """Replace ``partition``'s contents with the fold of its changelog ``records``."""
        part: dict[str, Any] = {}
        foreign: set[str] = set()
        count = 0
        for raw, value in records:
            count += 1
            key, faust_form = key_of(raw)
            if faust_form and value is not None:
                foreign.add(key)  # until a tombstone of that form: compaction keeps it
            elif faust_form:
                foreign.discard(key)
            if value is None:
                part.pop(key, None)
            else:
                part[key] = self.decode(value)
        self.parts[partition] = part
        self.faust_keys[partition] = foreign
        self.dirty.pop(partition, None)
        return count

    def drop(self, partition: int) -> None:
        """Forget ``partition`` (revoked, fenced, or its batch is being replayed)."""
        self.parts.pop(partition, None)
        self.dirty.pop(partition, None)
        self.faust_keys.pop(partition, None)

    # what the erasure processor uses of a faust table
    @property
    def data(self) -> _Entries:
        """The current partition's entries as changelog bytes (faust's ``table.data``)."""
        return _Entries(self)

    def send_changelog(self, partition: int, key: Any, value: Any, **_: Any) -> Any:
        """Nothing to send: a deletion is a dirty key, tombstoned in its transaction."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class _Entries:
    """``table.data`` for :mod:`omniroute.worker.erasure`: items as bytes, deletable."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def items(self) -> list[tuple[str, bytes]]:
        return [(key, self.table.encode(value)) for key, value in self.table._part().items()]

    def __delitem__(self, key: str) -> None:
        del self.table[key]


class ModelTable(Generic[Model]):
    """A table of ``model`` values: models in memory, their JSON bytes in the changelog."""

    def __init__(self, table: Table, model: type[Model]) -> None:
        self.table = table
        self.model = model

    def _parse(self, raw: Any) -> Model:
        return (self.model.model_validate_json(raw) if isinstance(raw, bytes)
                else self.model.model_validate(raw))

    def get(self, key: str) -> Model | None:
        """The model stored under ``key``, or None."""
        raw = self.table.get(key)
        if raw is None or isinstance(raw, self.model):
            return raw
        value = self._parse(raw)
        self.table.keep(key, value)
        return value

    def values(self) -> Iterator[Model]:
        """Every stored model (of the partitions this process owns)."""
        for _, raw in self.table.all_items():
            if raw is not None:
                yield raw if isinstance(raw, self.model) else self._parse(raw)

    def set(self, key: str, value: Model) -> None:
        """Store ``value`` under ``key`` (one changelog record when the batch commits)."""
        self.table[key] = value
