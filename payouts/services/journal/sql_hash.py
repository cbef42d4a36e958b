"""The chain hash of a posting computed by PostgreSQL: `chain.chain_hash(prev_hash, header,
chain.hash_entries(...))` of the entries that are the rows of a query plus one balancing entry,
byte for byte, without sending the entries to the process (a payout run to 1,000,000 payees:
the process stays flat; the server holds the serialisation, ~44 bytes per entry, while it hashes
it).

`hash_entries` writes the int64 columns little-endian; PostgreSQL's `int8send` is big-endian, so
each value is byte-swapped first with three shift-and-mask steps (bytes, 16-bit halves, 32-bit
halves), each in its own subquery level (`OFFSET 0` keeps the planner from substituting one
level into the next, which would repeat the inner steps). `>>` is arithmetic on bigint; every
right shift is masked, so negative amounts swap like any other 64-bit pattern.

Account order. The rows are sorted once, by account id, below the byte swaps, and each column
is one `string_agg` over that stream; the balancing entry is spliced into each column at its
place (after the `before` rows below its id). PostgreSQL does not promise that an aggregate
without its own ORDER BY sees a sorted subquery's rows in order, so the same aggregate pass
also collects the account ids as it saw them and, with their own ORDER BY, sorted (an int64
sort, ~5 ms at 100,000 rows): when the two differ the digest is NULL and the caller hashes
again with `ordered_aggregates=True`, where each column's aggregate sorts its own input (always
in order; three row sorts instead of one). A hash in the wrong order would make `verify_ledger`
report the transaction as tampered with. The tests compare both forms with journal_post's hash
on shuffled rows, and check that an unsorted stream gives NULL."""

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


# The digest in one aggregate pass over the rows. Each column is the payee rows in account
# order with the balancing entry spliced in after the `before` rows below its id (`cut` bytes);
# the balancing amount is -sum(amount), known in the same pass. The kinds are the payee kind
# `before` times, the balancing kind, the payee kind for the rest; every entry is in the
# balancing account's currency. {ordered} is the check that the aggregates saw the rows in
# account order (see the module docstring): the digest is NULL when it fails.
_DIGEST_SQL = """
SELECT h.n, h.total, h.bad,
       CASE WHEN {ordered} THEN encode(sha256(
           %(_head)s::bytea
           || {le_count}
           || substring(h.ids FROM 1 FOR h.cut) || {le_balancing} || substring(h.ids FROM h.cut + 1)
           || substring(h.payees FROM 1 FOR h.cut) || {le_zero}
           || substring(h.payees FROM h.cut + 1)
           || substring(h.amounts FROM 1 FOR h.cut) || {le_total}
           || substring(h.amounts FROM h.cut + 1)
           || convert_to(
                  repeat(%(_payee_kind)s || E'\\n', h.before::int) || %(_balancing_kind)s
                  || repeat(E'\\n' || %(_payee_kind)s, (h.n - h.before)::int)
                  || E'\\n' || %(_currency)s || repeat(E'\\n' || %(_currency)s, h.n::int),
                  'UTF8')
       ), 'hex') END
FROM (
    SELECT g.*, (g.before * 8)::int AS cut
    FROM (
        SELECT count(*) AS n,
               coalesce(sum(s.amount), 0)::bigint AS total,
               count(*) FILTER (WHERE s.k < %(_balancing)s) AS before,
               coalesce(bool_or(s.k = %(_balancing)s OR s.amount = 0 OR s.payee IS NULL), false)
                   AS bad,
               coalesce(string_agg(int8send(s.a), ''{order}), '') AS ids,
               coalesce(string_agg(int8send(s.p), ''{order}), '') AS payees,
               coalesce(string_agg(int8send(s.m), ''{order}), '') AS amounts{check}
        FROM ({swapped}) s
    ) g
) h
"""
# The stream's account ids as the aggregates saw them, and sorted.
_CHECK_COLUMNS = """,
               array_agg(s.k) AS seen, array_agg(s.k ORDER BY s.k) AS sorted"""


def _swapped_rows(rows_sql: str, *, sort: bool) -> str:
    """The rows with their three columns byte-swapped: k (the account id, the sort key), a, p, m
    (account id, payee id or 0, amount) swapped; amount and payee as read, for the checks.
    `sort`: the rows are sorted by account id first (three columns wide, before the swaps)."""
    # (S608: rows_sql is the caller's constant SQL, the rest constants; values are parameters.)
    columns = "r.account_id::bigint AS k, r.payee_id::bigint AS payee, r.amount::bigint AS amount"
    order = " ORDER BY 1" if sort else ""
    level = f"SELECT {columns} FROM ({rows_sql}) r{order}"  # noqa: S608
    columns = "q.k, q.k AS a, coalesce(q.payee, 0) AS p, q.amount AS m, q.amount, q.payee"
    level = f"SELECT {columns} FROM ({level}) q OFFSET 0"  # noqa: S608
    for bits, mask in _STEPS:
        swapped = ", ".join(f"{_swap_step(f'q.{c}', bits, mask)} AS {c}" for c in "apm")
        level = f"SELECT q.k, {swapped}, q.amount, q.payee FROM ({level}) q OFFSET 0"  # noqa: S608
    return f"SELECT * FROM ({level}) q"  # noqa: S608


def _digest_sql(rows_sql: str, *, sort_stream: bool, ordered_aggregates: bool) -> str:
    return _DIGEST_SQL.format(
        swapped=_swapped_rows(rows_sql, sort=sort_stream),
        order=" ORDER BY s.k" if ordered_aggregates else "",
        check="" if ordered_aggregates else _CHECK_COLUMNS,
        ordered="true" if ordered_aggregates else "h.seen IS NOT DISTINCT FROM h.sorted",
        le_count=le64_sql("(h.n + 1)::bigint"),
        le_balancing=le64_sql("%(_balancing)s::bigint"),
        le_zero=le64_sql("0::bigint"),
        le_total=le64_sql("(-h.total)::bigint"),
    )


def entries_digest_sql(rows_sql: str, *, ordered_aggregates: bool = False) -> str:
    """SQL of one row (n, total, bad, digest) for the posting whose entries are the rows
    `(account_id, payee_id, amount)` of `rows_sql` plus the balancing entry of -total: n payee
    rows, total their sum, bad whether a row is unfit (zero amount, no payee, the balancing
    account), digest `chain_hash(prev_hash, header, hash_entries(...))` of the n + 1 entries in
    account order. Parameters: see `entries_digest_params`.

    By default the rows are sorted once and the digest is NULL if the aggregates did not see
    them in account order (then run the `ordered_aggregates=True` form, whose digest is never
    NULL: each aggregate sorts its own input)."""
    return _digest_sql(rows_sql, sort_stream=True, ordered_aggregates=ordered_aggregates)


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
