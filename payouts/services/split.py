"""Largest-remainder allocation of an integer amount over integer weights."""

from array import array
from collections import Counter
from collections.abc import Sequence
from itertools import repeat
from operator import add, floordiv, gt, mod, mul, neg

_INTEGER_TYPECODES = frozenset("bBhHiIlLqQ")


def split_allocate(
    amount_micro: int, weights: Sequence[int], *, rotation_key: int, negated: bool = False
) -> list[int]:
    """Split `amount_micro` (an integer >= 0) over `weights` (ints >= 0, or an integer
    `array.array`; not all zero unless the amount is zero) by the largest-remainder method.
    `negated=True` returns every share negated (the credits a posting writes), without another
    pass over 100,000 shares.

    Rules it guarantees:
    * the shares sum exactly to `amount_micro`;
    * each share is the floor or the ceiling of its exact quota `amount * w_i / sum(w)`
      (a zero weight gets exactly 0);
    * the result depends only on the arguments (integer arithmetic, no floats, no randomness);
    * the units left after flooring go to the largest fractional remainders; among equal
      remainders the order starts at index `rotation_key mod n` and wraps around, so with a
      rotation key that differs between sales (derive it from the sale's own id) the same payee
      does not always receive the extra unit.
    """
    if isinstance(amount_micro, bool) or not isinstance(amount_micro, int):
        raise TypeError("amount_micro must be an int")
    if amount_micro < 0:
        raise ValueError("amount_micro must be >= 0")
    n = len(weights)
    if n == 0:
        raise ValueError("weights must not be empty")
    # Exact type: no bool, no float. An array of a machine integer type holds ints only (a
    # posting reads 100,000 weights into one: the per-item check would cost ~3 ms).
    integer_array = isinstance(weights, array) and weights.typecode in _INTEGER_TYPECODES
    if not integer_array and set(map(type, weights)) != {int}:
        raise TypeError("weights must be ints")
    counts = Counter(weights)
    if min(counts) < 0:
        raise ValueError("weights must be >= 0")
    total = sum(weight * count for weight, count in counts.items())
    if amount_micro == 0:
        return [0] * n
    if total == 0:
        raise ValueError("weights sum to zero; nothing to split a non-zero amount over")

    offset = rotation_key % n
    # left = sum(remainders) / total < number of non-zero remainders, so only indices with a
    # non-zero remainder (never a zero weight) receive a unit, and each at most one: every
    # remainder above the cut gets one, then `ties` of those at the cut, in position order
    # starting at `offset` and wrapping around.
    if len(counts) * 4 <= n:
        # Few distinct weights (the usual table): a share and a remainder per weight, then one
        # lookup per payee.
        quotas = {weight: divmod(amount_micro * weight, total) for weight in counts}
        left = amount_micro - sum(quotas[weight][0] * count for weight, count in counts.items())
        remainder_counts: Counter[int] = Counter()
        for weight, count in counts.items():
            remainder_counts[quotas[weight][1]] += count
        cut, ties = _remainder_cut(remainder_counts, left)
        sign = -1 if negated else 1
        final = {
            weight: sign * (share + (remainder > cut))
            for weight, (share, remainder) in quotas.items()
        }
        shares = list(map(final.__getitem__, weights))
        if ties:
            remainder_of = {weight: remainder for weight, (_, remainder) in quotas.items()}
            remainders = list(map(remainder_of.__getitem__, weights))
    else:
        products = list(map(mul, weights, repeat(amount_micro)))
        shares = list(map(floordiv, products, repeat(total)))
        left = amount_micro - sum(shares)
        if not left:
            return list(map(neg, shares)) if negated else shares
        remainders = list(map(mod, products, repeat(total)))
        del products  # a million payees: free them early
        cut, ties = _remainder_cut(Counter(remainders), left)
        shares = list(map(add, shares, map(gt, remainders, repeat(cut))))
        if negated:
            shares = list(map(neg, shares))
    if ties:
        unit = -1 if negated else 1
        for position in _first_positions(remainders, cut, ties, offset):
            shares[position] += unit
    return shares


def _remainder_cut(counts: Counter[int], left: int) -> tuple[int, int]:
    """(cut, ties): the remainder of the `left`-th largest (remainder, tie-break) pair, and how
    many of the remainders equal to it receive a unit; `counts` is {remainder: how many}.
    Walks the distinct remainders instead of sorting one key per payee (left = 0: the largest
    remainder, no ties, so nobody gets a unit)."""
    above = 0
    for remainder in sorted(counts, reverse=True):
        count = counts[remainder]
        if above + count >= left:
            return remainder, left - above
        above += count
    raise AssertionError("fewer remainders than units left")  # left < non-zero remainders


def _first_positions(remainders: list[int], cut: int, count: int, offset: int) -> list[int]:
    """The first `count` positions holding `cut`, in order from `offset`, wrapping around."""
    found: list[int] = []
    for start, stop in ((offset, len(remainders)), (0, offset)):
        while len(found) < count:
            try:
                position = remainders.index(cut, start, stop)
            except ValueError:
                break
            found.append(position)
            start = position + 1
    return found
