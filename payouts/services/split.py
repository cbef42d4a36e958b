"""Largest-remainder allocation of an integer amount over integer weights."""

from collections.abc import Sequence


def split_allocate(amount_micro: int, weights: Sequence[int], *, rotation_key: int) -> list[int]:
    """Split `amount_micro` (an integer >= 0) over `weights` (integers >= 0, not all zero unless
    the amount is zero) by the largest-remainder method.

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
    if set(map(type, weights)) != {int}:  # exact type: no bool, no float
        raise TypeError("weights must be ints")
    if min(weights) < 0:
        raise ValueError("weights must be >= 0")
    total = sum(weights)
    if amount_micro == 0:
        return [0] * n
    if total == 0:
        raise ValueError("weights sum to zero; nothing to split a non-zero amount over")

    offset = rotation_key % n
    products = [amount_micro * w for w in weights]
    shares = [p // total for p in products]
    left = amount_micro - sum(shares)
    # left = sum(remainders) / total < number of non-zero remainders, so only indices with a
    # non-zero remainder (never a zero weight) receive a unit, and each at most one.
    if left:
        # One sortable int per index: the remainder first, then the tie-break rank (higher for
        # an earlier position counted from `offset`), so one descending sort of plain ints
        # orders them. rank(i) = n - 1 - ((i - offset) mod n).
        ranks = [*range(offset - 1, -1, -1), *range(n - 1, offset - 1, -1)]
        keys = [(p % total) * n + rank for p, rank in zip(products, ranks, strict=True)]
        del products, ranks  # a million payees: free them before the sort's copy
        # The keys are distinct (the rank part), so exactly the `left` largest are at or above
        # the left-th largest: one comparison per index instead of a loop of index arithmetic.
        cut = sorted(keys, reverse=True)[left - 1]
        shares = [share + (key >= cut) for share, key in zip(shares, keys, strict=True)]
    return shares
