"""The models behind the records this process sent lately, found by their bytes.

A worker reads back much of what it writes: identity's ``Observe`` records come
back on ``omniroute.internal.customers``, threading's and automation's
ConversationEvents on ``omniroute.conversations.v1`` (where the router's news
arrives too). Parsing and validating such a record gives a model equal to the
one its bytes were made from, so :meth:`SentModels.get` returns that model
instead: a send given ``model=`` remembers it under the exact bytes sent, and
a record read back with the same bytes, by the same process and not too long
after, is not parsed again. Any other record (another process's, one sent too
long ago, or a second reading) misses and is parsed as before. The models are immutable in use
(handlers copy, never mutate), so sharing one between a send and its read is safe.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")

GENERATION = 4096
"""Records remembered per generation; two generations are kept (at most twice this)."""


class SentModels:
    """Recently sent records' models by their bytes (see the module docstring)."""

    def __init__(self, generation: int = GENERATION) -> None:
        self.generation = generation
        self.recent: dict[bytes, Any] = {}
        self.older: dict[bytes, Any] = {}

    def remember(self, value: bytes, model: Any) -> None:
        """``value`` was sent and encodes ``model``."""
        if len(self.recent) >= self.generation:
            self.older, self.recent = self.recent, {}
        self.recent[value] = model

    def get(self, value: bytes, *kinds: type[T]) -> T | None:
        """The model ``value`` was made from, if it is one of ``kinds`` and remembered;
        forgotten once found (a record is read back once, a replay parses it)."""
        found = self.recent.pop(value, None)
        if found is None:
            found = self.older.pop(value, None)
        return found if isinstance(found, kinds) else None
