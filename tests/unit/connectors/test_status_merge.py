"""DeliveryStatus merging is order-independent (property test over permutations)."""

from __future__ import annotations

from functools import reduce

from hypothesis import given
from hypothesis import strategies as st

from omniroute.contract import DeliveryState
from omniroute_connectors.mapping import merge_state

states = st.lists(st.sampled_from(list(DeliveryState)), min_size=1, max_size=8)


def fold(sequence: list[DeliveryState]) -> DeliveryState:
    return reduce(merge_state, sequence, None)  # type: ignore[arg-type]


@given(states, st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_same_state(sequence: list[DeliveryState], rnd) -> None:
    shuffled = list(sequence)
    rnd.shuffle(shuffled)
    assert fold(shuffled) == fold(sequence)


@given(states)
def test_late_delivered_never_overwrites_read(sequence: list[DeliveryState]) -> None:
    result = fold([*sequence, DeliveryState.READ, DeliveryState.DELIVERED])
    assert result in (DeliveryState.READ, DeliveryState.FAILED)
    if DeliveryState.FAILED not in sequence:
        assert result is DeliveryState.READ


@given(states)
def test_failed_is_terminal(sequence: list[DeliveryState]) -> None:
    assert fold([DeliveryState.FAILED, *sequence]) is DeliveryState.FAILED


def test_progression() -> None:
    assert fold([DeliveryState.ACCEPTED, DeliveryState.SENT]) is DeliveryState.SENT
    assert fold([DeliveryState.DELIVERED, DeliveryState.SENT]) is DeliveryState.DELIVERED
