"""split_allocate: largest remainder over integer micro-units (pure function, no database)."""

import random
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payouts.models import MICRO_PER_CENT
from payouts.services import split_allocate
from payouts.services.sales import rotation_key_for
from tests.payouts.conftest import rotation_keys

amounts = st.integers(min_value=1, max_value=10**7).map(lambda cents: cents * MICRO_PER_CENT)
weights_lists = st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=5_000)


def _assert_quota_property(amount, weights, shares):
    total = sum(weights)
    assert len(shares) == len(weights)
    assert sum(shares) == amount
    for w, share in zip(weights, shares, strict=True):
        floor, remainder = divmod(amount * w, total)  # exact quota = floor + remainder/total
        assert share == floor or (remainder and share == floor + 1)


@settings(max_examples=200, deadline=None)
@given(amount=amounts, weights=weights_lists, key=rotation_keys)
def test_shares_sum_exactly_and_each_is_floor_or_ceiling_of_its_quota(amount, weights, key):
    shares = split_allocate(amount, weights, rotation_key=key)
    _assert_quota_property(amount, weights, shares)


@settings(max_examples=60, deadline=None)
@given(
    amount=amounts,
    n=st.integers(min_value=1, max_value=5_000),
    max_weight=st.sampled_from([1, 3, 100, 10**4, 10**9]),
    seed=st.integers(min_value=0, max_value=2**32),
    key=rotation_keys,
)
def test_quota_property_for_up_to_5000_payees(amount, n, max_weight, seed, key):
    """Lists as long as 5,000 (drawn directly, hypothesis would mostly try short lists)."""
    rng = random.Random(seed)
    weights = [rng.randint(1, max_weight) for _ in range(n)]
    _assert_quota_property(amount, weights, split_allocate(amount, weights, rotation_key=key))


@settings(max_examples=100, deadline=None)
@given(amount=amounts, weights=weights_lists, key=rotation_keys)
def test_deterministic(amount, weights, key):
    assert split_allocate(amount, weights, rotation_key=key) == split_allocate(
        amount, list(weights), rotation_key=key
    )


@settings(max_examples=100, deadline=None)
@given(
    amount=st.integers(min_value=0, max_value=10**11),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=500).filter(
        any
    ),
    key=rotation_keys,
)
def test_zero_weights_get_nothing_and_small_amounts_work(amount, weights, key):
    shares = split_allocate(amount, weights, rotation_key=key)
    _assert_quota_property(amount, weights, shares)
    assert all(share == 0 for w, share in zip(weights, shares, strict=True) if w == 0)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=5_000),
    per_payee=st.integers(min_value=0, max_value=10**6),
    extra=st.integers(min_value=1, max_value=4_999),
    key=rotation_keys,
)
def test_tie_break_starts_at_the_rotation_key(n, per_payee, extra, key):
    """Equal weights: all remainders tie, so the `extra` units go to the `extra` payees from
    index rotation_key mod n onwards (wrapping)."""
    extra = extra % n or 1
    shares = split_allocate(per_payee * n + extra, [7] * n, rotation_key=key)
    winners = {i for i, share in enumerate(shares) if share == per_payee + 1}
    assert winners == {(key + j) % n for j in range(extra)}


@pytest.mark.parametrize("n", [2, 3, 7, 100])
def test_over_many_sales_the_extra_unit_is_spread_over_the_payees(n):
    """One extra micro-unit per sale among equal payees: with the rotation key derived from each
    sale's key, every payee gets it about equally often and no payee gets it every time."""
    sales = 200 * n
    counts = Counter()
    for i in range(sales):
        shares = split_allocate(1000 * n + 1, [1] * n, rotation_key=rotation_key_for(f"sale:o{i}"))
        counts.update(j for j, share in enumerate(shares) if share == 1001)
    assert sum(counts.values()) == sales
    assert len(counts) == n
    assert max(counts.values()) <= 1.5 * 200 and min(counts.values()) >= 0.5 * 200


def test_over_many_sales_rounding_does_not_favour_any_payee():
    """Random weights and amounts: each payee's total over many sales stays within a few units of
    its exact total (per sale the error is under one micro-unit; over many sales the errors
    cancel instead of accumulating for one payee)."""
    rng = random.Random(20261125)
    weights = [rng.randint(1, 1000) for _ in range(40)]
    total_weight = sum(weights)
    got = [0] * len(weights)
    exact = [Fraction(0)] * len(weights)
    sales = 3000
    for i in range(sales):
        amount = rng.randint(1, 10**5)
        for j, share in enumerate(
            split_allocate(amount, weights, rotation_key=rotation_key_for(f"s{i}"))
        ):
            got[j] += share
            exact[j] += Fraction(amount * weights[j], total_weight)
    drift = [abs(g - e) for g, e in zip(got, exact, strict=True)]
    # A payee always rounded up would drift by ~sales/2 = 1500 units; unbiased rounding by
    # ~sqrt(sales) ≈ 55 at most.
    assert max(drift) < 150


def test_large_split_is_exact():
    weights = [1 + i % 997 for i in range(100_000)]
    shares = split_allocate(12_345_678_901, weights, rotation_key=42)
    _assert_quota_property(12_345_678_901, weights, shares)


@pytest.mark.parametrize(
    ("amount", "weights", "error"),
    [
        (-1, [1], ValueError),
        (10, [], ValueError),
        (10, [0, 0], ValueError),
        (10, [1, -1, 3], ValueError),
        (1.5, [1], TypeError),
        (10, [1.0], TypeError),
        (True, [1], TypeError),
    ],
)
def test_bad_input_is_refused(amount, weights, error):
    with pytest.raises(error):
        split_allocate(amount, weights, rotation_key=0)


def test_zero_amount_over_zero_weights_is_all_zero():
    assert split_allocate(0, [0, 0], rotation_key=5) == [0, 0]
