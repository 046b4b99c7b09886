"""A sorted set of ready agents' selection keys, cheap at the sizes routing sees most.

The ready indexes are many small lists: on a contact-centre mix at 10,000 agents
the lists per (skill, level, blocked channels) hold 16 keys on average and a
few hundred at most, and every offer and every release moves an agent's key in
four of them. A :class:`SortedList` pays interpreted bookkeeping on each move; a
plain list kept sorted with :mod:`bisect` does the same move in C, with a
``memmove`` that costs nothing at these sizes but grows with the list. So a list
starts plain and becomes a :class:`SortedList` once it holds more than
:data:`LARGE` keys (the few room-wide lists of a pool of 100,000 agents), and
plain again below :data:`SMALL`. Either way iteration is the keys' sort order:
which form a list has never shows in a decision, so a pool rebuilt from a
snapshot decides exactly as the pool it was taken from.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from typing import Any

from sortedcontainers import SortedList  # type: ignore[import-untyped]

Key = tuple[Any, ...]
LARGE = 4096
"""Above this many keys a list becomes a :class:`SortedList` (logarithmic moves)."""
SMALL = 1024
"""Below this many keys it becomes a plain list again (hysteresis: no flapping)."""


class ReadyList:
    """Selection keys in sorted order: ``add``, ``remove``, ``keys[0]``, iteration, ``len``."""

    __slots__ = ("keys",)

    def __init__(self) -> None:
        self.keys: list[Key] | SortedList = []
        """The keys in order (read only: a hot loop tests ``keys`` and reads ``keys[0]``
        without a method call; change them through ``add`` and ``remove``)."""

    def add(self, key: Key) -> None:
        """Insert ``key`` (not present)."""
        keys = self.keys
        if isinstance(keys, list):
            insort(keys, key)
            if len(keys) > LARGE:
                self.keys = SortedList(keys)
        else:
            keys.add(key)

    def remove(self, key: Key) -> None:
        """Delete ``key`` (present)."""
        keys = self.keys
        if isinstance(keys, list):
            del keys[bisect_left(keys, key)]
        else:
            keys.remove(key)
            if len(keys) < SMALL:
                self.keys = list(keys)

    def __iter__(self) -> Iterator[Key]:
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def __bool__(self) -> bool:
        return bool(self.keys)
