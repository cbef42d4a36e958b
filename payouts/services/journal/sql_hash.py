"""The chain hash of a posting computed by PostgreSQL: `chain.chain_hash(prev_hash, header,
chain.hash_entries(...))` of the entries that are the rows of a query plus one balancing entry,
byte for byte, without sending the entries to the process (a payout run to 1,000,000 payees:
the process stays flat; the server holds the serialisation, ~44 bytes per entry, while it hashes
it).

`hash_entries` writes the int64 columns little-endian; PostgreSQL's `int8send` is big-endian, so
each value is byte-swapped first with three shift-and-mask steps (bytes, 16-bit halves, 32-bit
halves), each in its own subquery level (`OFFSET 0` keeps the planner from substituting one
level into the next, which would repeat the inner steps). `>>` is arithmetic on bigint; every
right shift is masked, so negative amounts swap like any other 64-bit pattern."""

from __future__ import annotations

from payouts.services.journal.entries import AccountRef

_MASK_8 = 0x00FF00FF00FF00FF
_MASK_16 = 0x0000FFFF0000FFFF
_MASK_32 = 0x00000000FFFFFFFF
_STEPS = ((8, _MASK_8), (16, _MASK_16), (32, _MASK_32))


def _swap_step(expr: str, bits: int, mask: int) -> str:
    return f"((({expr}) & {mask}) << {bits}) | ((({expr}) >> {bits}) & {mask})"


def le64_sql(expr: str) -> str:
    """SQL for the 8 little-endian bytes of the bigint `expr` (inline; for a few values: `expr`
    is repeated 8 times)."""
    for bits, mask in _STEPS:
        expr = _swap_step(expr, bits, mask)
    return f"int8send({expr})"


# The digest in one aggregate pass over the rows. Each column is the payee rows below the
# balancing account's id, the balancing entry, then the rows above it (account order, hence the
# FILTERed halves); the balancing amount is -sum(amount), known in the same pass. Each aggregate
# orders its input by account id itself: a sorted subquery would usually feed them in order,
# but PostgreSQL does not promise it, and a hash in the wrong order would make `verify_ledger`
# report the transaction as tampered with (six sorts cost ~20 ms more at 100,000 rows). The
# tests compare the digest with journal_post's on shuffled rows. The kinds are
# the payee kind `before` times, the balancing kind, the payee kind for the rest; every entry is
# in the balancing account's currency.
_DIGEST_SQL = """
SELECT h.n, h.total, h.bad,
       encode(sha256(
           %(_head)s::bytea
           || {le_count}
           || coalesce(h.ids_lo, '') || {le_balancing} || coalesce(h.ids_hi, '')
           || coalesce(h.payees_lo, '') || {le_zero} || coalesce(h.payees_hi, '')
           || coalesce(h.amounts_lo, '') || {le_total} || coalesce(h.amounts_hi, '')
           || convert_to(
                  repeat(%(_payee_kind)s || E'\\n', h.before::int) || %(_balancing_kind)s
                  || repeat(E'\\n' || %(_payee_kind)s, (h.n - h.before)::int)
                  || E'\\n' || %(_currency)s || repeat(E'\\n' || %(_currency)s, h.n::int),
                  'UTF8')
       ), 'hex')
FROM (
    SELECT count(*) AS n,
           coalesce(sum(s.amount), 0)::bigint AS total,
           count(*) FILTER (WHERE s.k < %(_balancing)s) AS before,
           coalesce(bool_or(s.k = %(_balancing)s OR s.amount = 0 OR s.payee IS NULL), false)
               AS bad,
           string_agg(int8send(s.a), '' ORDER BY s.k) FILTER (WHERE s.k < %(_balancing)s)
               AS ids_lo,
           string_agg(int8send(s.a), '' ORDER BY s.k) FILTER (WHERE s.k > %(_balancing)s)
               AS ids_hi,
           string_agg(int8send(s.p), '' ORDER BY s.k) FILTER (WHERE s.k < %(_balancing)s)
               AS payees_lo,
           string_agg(int8send(s.p), '' ORDER BY s.k) FILTER (WHERE s.k > %(_balancing)s)
               AS payees_hi,
           string_agg(int8send(s.m), '' ORDER BY s.k) FILTER (WHERE s.k < %(_balancing)s)
               AS amounts_lo,
           string_agg(int8send(s.m), '' ORDER BY s.k) FILTER (WHERE s.k > %(_balancing)s)
               AS amounts_hi
    FROM ({swapped}) s
) h
"""


def _swapped_rows(rows_sql: str) -> str:
    """The rows with their three columns byte-swapped: k (the account id, the aggregates' sort
    key), a, p, m (account id, payee id or 0, amount) swapped; amount and payee as read,
    for the checks."""
    # (S608: rows_sql is the caller's constant SQL, the rest constants; values are parameters.)
    columns = (
        "r.account_id::bigint AS k, r.account_id::bigint AS a,"
        " coalesce(r.payee_id::bigint, 0) AS p, r.amount::bigint AS m,"
        " r.amount::bigint AS amount, r.payee_id::bigint AS payee"
    )
    level = f"SELECT {columns} FROM ({rows_sql}) r OFFSET 0"  # noqa: S608
    for bits, mask in _STEPS:
        swapped = ", ".join(f"{_swap_step(f'q.{c}', bits, mask)} AS {c}" for c in "apm")
        level = f"SELECT q.k, {swapped}, q.amount, q.payee FROM ({level}) q OFFSET 0"  # noqa: S608
    return f"SELECT * FROM ({level}) q"  # noqa: S608


def entries_digest_sql(rows_sql: str) -> str:
    """SQL of one row (n, total, bad, digest) for the posting whose entries are the rows
    `(account_id, payee_id, amount)` of `rows_sql` plus the balancing entry of -total: n payee
    rows, total their sum, bad whether a row is unfit (zero amount, no payee, the balancing
    account), digest `chain_hash(prev_hash, header, hash_entries(...))` of the n + 1 entries in
    account order. Parameters: see `entries_digest_params`."""
    return _DIGEST_SQL.format(
        swapped=_swapped_rows(rows_sql),
        le_count=le64_sql("(h.n + 1)::bigint"),
        le_balancing=le64_sql("%(_balancing)s::bigint"),
        le_zero=le64_sql("0::bigint"),
        le_total=le64_sql("(-h.total)::bigint"),
    )


def entries_digest_params(
    prev_hash: str, header: str, payee_kind: str, balancing: AccountRef
) -> dict:
    for text in (prev_hash, header, payee_kind, balancing.kind, balancing.currency):
        if not text.isascii() or "\n" in text:
            raise ValueError(f"not hashable as one ASCII line: {text!r}")
    return {
        "_head": f"{prev_hash}\n{header}\n".encode("ascii"),
        "_balancing": balancing.id,
        "_payee_kind": payee_kind,
        "_balancing_kind": balancing.kind,
        "_currency": balancing.currency,
    }
