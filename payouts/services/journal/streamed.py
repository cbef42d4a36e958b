"""`journal_post_payee_query`: a posting whose payee entries are the rows of a query, hashed
while streamed from a server-side cursor and written with one INSERT ... SELECT, so the process
never holds them (a payout run to 1,000,000 payees in constant memory)."""

from __future__ import annotations

import bisect
import hashlib
import struct
import sys
import tempfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from payouts.models import JournalTransaction
from payouts.services.journal.chain import hash_header, ledger_chain_lock, ledger_head
from payouts.services.journal.entries import AccountRef
from payouts.services.journal.posting import journal_transaction_replayed

_CHUNK = 20_000  # entries per fetched row
_SPOOL_BYTES = 4 * 1024 * 1024  # a spooled column moves to a temporary file above this


def _le64_from_be(data: bytes) -> array:
    """int8send() output (big-endian int64s) as an array of int64 in host order."""
    values = array("q")
    values.frombytes(data)
    if sys.byteorder == "little":
        values.byteswap()
    return values


def _le64(values: array) -> bytes:
    if sys.byteorder != "little":
        values = array("q", values)
        values.byteswap()
    return values.tobytes()


def _joined(text: str, count: int) -> Iterator[bytes]:
    """`"\\n".join([text] * count)`, in bounded chunks."""
    unit = (text + "\n").encode("ascii")
    left = count
    while left > 0:
        step = min(left, _CHUNK)
        left -= step
        chunk = unit * step
        yield chunk if left else chunk[:-1]


@dataclass
class _Spooled:
    """The entry columns in canonical order (ascending account id, the balancing entry at its
    place) as little-endian int64 files, and what the checks need."""

    columns: tuple  # ids, payee ids, amounts: SpooledTemporaryFile each
    count: int  # payee rows (the posting has count + 1 entries)
    total: int  # sum of the payee amounts
    id_sum: int  # sum of the payee account ids
    at: int  # position of the balancing entry


# The rows in account order, _CHUNK to a row, packed by the server (int8send, big endian): one
# byte string of 24-byte (account id, payee id, amount) records per chunk instead of a Python
# tuple per entry. One ordered aggregate, not one per column: each sorts its chunk.
_SPOOL_SQL = """
SELECT string_agg(int8send(t.account_id) || int8send(t.payee_id) || int8send(t.amount),
                  ''::bytea ORDER BY t.account_id),
       count(*), sum(t.amount), sum(t.account_id),
       bool_or(t.account_id = %(_balancing)s OR t.amount = 0 OR t.payee_id IS NULL)
FROM (
    SELECT r.account_id::bigint, r.payee_id::bigint, r.amount::bigint,
           (row_number() OVER (ORDER BY r.account_id) - 1) / {chunk} AS chunk
    FROM ({rows}) r
) t
GROUP BY t.chunk
ORDER BY t.chunk
"""


def _spool(
    rows_sql: str, params: dict, balancing: AccountRef, columns: tuple, chunk_rows: int
) -> _Spooled:
    """Stream `rows_sql` once, in account order, into the three spooled `columns`; the
    balancing amount (-total) is written at its place once the total is known."""
    ids, payees, amounts = columns
    count = total = id_sum = 0
    at = None
    sql = _SPOOL_SQL.format(chunk=int(chunk_rows), rows=rows_sql)
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, {**params, "_balancing": balancing.id})
        while rows := cursor.fetchmany(4):
            for records, n, amount_sum, ids_sum, bad in rows:
                if bad:
                    raise ValueError("payee rows must be non-zero, on payee accounts only")
                records = _le64_from_be(records)
                if len(records) != 3 * n:
                    raise RuntimeError(f"spooled {len(records)} values for {n} rows")
                chunk_ids, chunk_payees, chunk_amounts = records[0::3], records[1::3], records[2::3]
                if at is None and chunk_ids[-1] > balancing.id:
                    k = bisect.bisect_left(chunk_ids, balancing.id)
                    at = count + k
                    chunk_ids.insert(k, balancing.id)
                    chunk_payees.insert(k, 0)
                    chunk_amounts.insert(k, 0)  # overwritten below
                count, total, id_sum = count + n, total + int(amount_sum), id_sum + int(ids_sum)
                ids.write(_le64(chunk_ids))
                payees.write(_le64(chunk_payees))
                amounts.write(_le64(chunk_amounts))
    if at is None:
        at = count
        for column in columns:
            column.write(_le64(array("q", [balancing.id if column is ids else 0])))
    amounts.seek(at * 8)
    amounts.write(_le64(array("q", [-total])))
    return _Spooled(columns, count, total, id_sum, at)


def _entries_digest(
    prev_hash: str, header: str, spooled: _Spooled, payee_kind: str, balancing: AccountRef
) -> str:
    """`chain.chain_hash(prev_hash, header, chain.hash_entries(...))` of the spooled entries,
    fed in bounded blocks (the same bytes, never built whole)."""
    digest = hashlib.sha256()
    for part in (prev_hash.encode("ascii"), b"\n", header.encode("ascii"), b"\n"):
        digest.update(part)
    digest.update(struct.pack("<q", spooled.count + 1))
    for column in spooled.columns:
        column.seek(0)
        while block := column.read(_SPOOL_BYTES):
            digest.update(block)
    after = spooled.count - spooled.at
    kinds = [
        *_joined(payee_kind, spooled.at),
        *([b"\n"] if spooled.at else []),
        balancing.kind.encode("ascii"),
        *([b"\n"] if after else []),
    ]
    for part in kinds:
        digest.update(part)
    for part in _joined(payee_kind, after):
        digest.update(part)
    digest.update(b"\n")
    for part in _joined(balancing.currency, spooled.count + 1):
        digest.update(part)
    return digest.hexdigest()


def journal_post_payee_query(
    *,
    idempotency_key: str,
    kind: str,
    rows_sql: str,
    params: dict,
    payee_kind: str,
    balancing: AccountRef,
    chunk_rows: int = _CHUNK,
) -> tuple[JournalTransaction, bool]:
    """Append one journal transaction whose entries are the rows `(account_id, payee_id,
    amount)` of `rows_sql` plus one balancing entry of -sum(amount) on `balancing`; returns
    (transaction, created). The same rules as `journal_post` (idempotent, balanced, chained:
    the stored hash is the one `journal_post` would compute for the same entries), for
    postings too large to hold in memory.

    The caller guarantees what `journal_post(check_accounts=False)` trusts: the rows are
    read from the accounts (each `account_id` a `payee_kind` account of `payee_id` in the
    balancing account's currency, at most once) and do not change until commit (rows of this
    transaction or append-only ones). The rows are read twice (hashed, then inserted); the
    insert is checked to have written the same count, amount and account-id sums, and
    PostgreSQL checks the balance and the references again at commit. `chunk_rows`: entries
    per fetched row (the memory bound)."""
    if not idempotency_key or not kind:
        raise ValueError("idempotency_key and kind are required")
    with transaction.atomic():
        ledger_chain_lock()
        existing = journal_transaction_replayed(idempotency_key, kind)
        if existing is not None:
            return existing, False
        with (
            tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as ids,
            tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as payees,
            tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as amounts,
        ):
            spooled = _spool(rows_sql, params, balancing, (ids, payees, amounts), chunk_rows)
            if not spooled.count or not spooled.total:
                raise ValueError(f"{idempotency_key}: nothing to post")
            head_sequence, prev_hash = ledger_head()
            sequence, created_at = head_sequence + 1, timezone.now()
            header = hash_header(
                sequence=sequence,
                idempotency_key=idempotency_key,
                kind=kind,
                created_at=created_at,
                dataset_version_id=None,
                share_table_id=None,
                related_transaction_id=None,
                external_reference="",
            )
            digest = _entries_digest(prev_hash, header, spooled, payee_kind, balancing)
        journal = JournalTransaction.objects.create(
            sequence=sequence,
            idempotency_key=idempotency_key,
            kind=kind,
            created_at=created_at,
            prev_hash=prev_hash,
            hash=digest,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH written AS (
                    INSERT INTO payouts_entry (transaction_id, account_id, currency, amount)
                    SELECT %(tx)s, r.account_id, %(currency)s, r.amount FROM ({rows_sql}) r
                    RETURNING account_id, amount
                )
                SELECT count(*), coalesce(sum(amount), 0), coalesce(sum(account_id), 0)
                FROM written
                """,  # noqa: S608 - rows_sql is the caller's constant SQL; values are parameters
                {**params, "tx": journal.pk, "currency": balancing.currency},
            )
            written = tuple(int(x) for x in cursor.fetchone())
            if written != (spooled.count, spooled.total, spooled.id_sum):
                raise RuntimeError(
                    f"{idempotency_key}: wrote {written}, hashed "
                    f"{(spooled.count, spooled.total, spooled.id_sum)}"
                )
            cursor.execute(
                "INSERT INTO payouts_entry (transaction_id, account_id, currency, amount)"
                " VALUES (%s, %s, %s, %s)",
                [journal.pk, balancing.id, balancing.currency, -spooled.total],
            )
        return journal, True
