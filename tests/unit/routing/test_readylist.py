"""The ready list is a sorted set whatever form it has (plain list or SortedList)."""

from __future__ import annotations

import random

import pytest

from omniroute.routing import readylist
from omniroute.routing.readylist import ReadyList


@pytest.mark.parametrize("seed", range(5))
def test_keeps_sort_order_across_both_forms(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Random adds and removes that grow past LARGE and shrink below SMALL, several times:
    iteration, head and length always match a sorted reference."""
    monkeypatch.setattr(readylist, "LARGE", 40)
    monkeypatch.setattr(readylist, "SMALL", 10)
    rng = random.Random(seed)
    ready, reference = ReadyList(), set()
    forms = set()
    for step in range(3000):
        growing = (step // 500) % 2 == 0
        if reference and (rng.random() < (0.3 if growing else 0.7)):
            key = rng.choice(sorted(reference))
            ready.remove(key)
            reference.discard(key)
        else:
            key = (rng.random(), f"a{rng.randrange(10**6)}")
            ready.add(key)
            reference.add(key)
        forms.add(type(ready.keys).__name__)
        assert list(ready) == sorted(reference)
        assert len(ready) == len(reference) and bool(ready) == bool(reference)
        if reference:
            assert ready.head() == min(reference)
    assert forms == {"list", "SortedList"}  # both forms were exercised
