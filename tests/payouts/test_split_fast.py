"""split_allocate gives exactly what the sorting implementation it replaced gave (a reference
copy below): the shares are part of the hashed ledger, so a faster split must not move a unit."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from payouts.models import MICRO_PER_CENT
from payouts.services import split_allocate
from tests.payouts.conftest import rotation_keys


def _reference_split(amount: int, weights: list[int], rotation_key: int) -> list[int]:
    """split_allocate as of payouts 0008 (one sort of remainder-and-rank keys)."""
    n = len(weights)
    total = sum(weights)
    if amount == 0:
        return [0] * n
    offset = rotation_key % n
    products = [amount * w for w in weights]
    shares = [p // total for p in products]
    left = amount - sum(shares)
    if left:
        ranks = [*range(offset - 1, -1, -1), *range(n - 1, offset - 1, -1)]
        keys = [(p % total) * n + rank for p, rank in zip(products, ranks, strict=True)]
        cut = sorted(keys, reverse=True)[left - 1]
        shares = [share + (key >= cut) for share, key in zip(shares, keys, strict=True)]
    return shares


@settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(min_value=0, max_value=10**8),
    weights=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=300).filter(any),
    key=rotation_keys,
)
def test_same_shares_as_the_reference_with_many_ties(amount, weights, key):
    """Small weights: many equal remainders, so the tie-break decides most units."""
    assert split_allocate(amount, weights, rotation_key=key) == _reference_split(
        amount, weights, key
    )


@settings(max_examples=200, deadline=None)
@given(
    cents=st.integers(min_value=0, max_value=10**7),
    weights=st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=500).filter(
        any
    ),
    key=rotation_keys,
)
def test_same_shares_as_the_reference_with_large_weights(cents, weights, key):
    amount = cents * MICRO_PER_CENT
    assert split_allocate(amount, weights, rotation_key=key) == _reference_split(
        amount, weights, key
    )


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=20_000),
    max_weight=st.sampled_from([1, 2, 7, 1000, 10**6, 10**12]),
    seed=st.integers(min_value=0, max_value=2**32),
    key=rotation_keys,
    cents=st.integers(min_value=1, max_value=10**7),
)
def test_same_shares_as_the_reference_for_long_tables(n, max_weight, seed, key, cents):
    rng = random.Random(seed)
    weights = [rng.randint(1, max_weight) for _ in range(n)]
    for amount in (cents, cents * MICRO_PER_CENT):
        assert split_allocate(amount, weights, rotation_key=key) == _reference_split(
            amount, weights, key
        )


def test_equal_weights_units_go_from_the_rotation_key_around_the_end():
    """Seven equal weights, 10 units: 1 each, then 3 more starting at index 5 and wrapping."""
    assert split_allocate(10, [1] * 7, rotation_key=5) == [2, 1, 1, 1, 1, 2, 2]
    assert _reference_split(10, [1] * 7, 5) == [2, 1, 1, 1, 1, 2, 2]
