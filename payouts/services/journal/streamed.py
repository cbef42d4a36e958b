"""`journal_post_payee_query`: a posting whose payee entries are the rows of a query, hashed by
PostgreSQL (sql_hash) and written with one INSERT ... SELECT, so the process never holds them (a
payout run to 1,000,000 payees in constant memory)."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from payouts.models import JournalTransaction
from payouts.services.journal.chain import hash_header, ledger_chain_lock, ledger_head
from payouts.services.journal.entries import AccountRef
from payouts.services.journal.posting import journal_transaction_replayed
from payouts.services.journal.sql_hash import entries_digest_params, entries_digest_sql


def id_block_sql(table: str, size: str) -> str:
    """SQL of the first id of a block of `size` (an SQL expression, evaluated twice) ids of
    `table`'s sequence, the sequence moved past the block in the same expression: one sequence
    write instead of one nextval() per row (each a locked buffer, every 32nd a WAL record: ~70 ms
    at 100,000 rows). Callers write under the chain lock, as every posting and every payout run
    does, so no other insert takes a value of the block; one that did would fail on the primary
    key, it could not duplicate a row. Ids stay increasing in creation order."""
    sequence = f"pg_get_serial_sequence('{table}', 'id')::regclass"
    return f"setval({sequence}, nextval({sequence}) + ({size}) - 1) - ({size}) + 1"


_IDS_SQL = f"SELECT {id_block_sql('payouts_entry', '%s')}"

# The payee rows, numbered from the block's first id; the balancing entry, the block's last id,
# is its own statement: in one statement, its account (a platform account, often far from the
# payees' in id order) would widen the id range whose accounts the entries' trigger reads to
# check the references. {number}: row_number() (a window over the rows, ~20 ms at 100,000), or
# the rows' own `n` when they carry one (then a row outside 1..count is not written, and the
# written count is checked: with the primary key, the n are exactly 1..count).
_INSERT_SQL = """
INSERT INTO payouts_entry (id, transaction_id, account_id, currency, amount)
SELECT %(_first)s::bigint + {number} - 1, %(_tx)s, r.account_id, %(_currency)s, r.amount
FROM ({rows}) r{where}
"""


def journal_post_payee_query(
    *,
    idempotency_key: str,
    kind: str,
    rows_sql: str,
    params: dict,
    payee_kind: str,
    balancing: AccountRef,
    rows_numbered: bool = False,
) -> tuple[JournalTransaction, bool]:
    """Append one journal transaction whose entries are the rows `(account_id, payee_id,
    amount)` of `rows_sql` plus one balancing entry of -sum(amount) on `balancing`; returns
    (transaction, created). The same rules as `journal_post` (idempotent, balanced, chained:
    the stored hash is the one `journal_post` would compute for the same entries), for
    postings too large to hold in memory: PostgreSQL serialises and hashes the entries
    (sql_hash), nothing per entry comes to the process.

    The caller guarantees what `journal_post(check_accounts=False)` trusts: the rows are
    read from the accounts (each `account_id` a `payee_kind` account of `payee_id` in the
    balancing account's currency, at most once) and do not change until commit (rows of this
    transaction or append-only ones). The rows are read twice (hashed, then inserted); the
    insert is checked to have written as many rows as were hashed, and PostgreSQL checks the
    balance (the written rows sum to the total hashed, which the balancing entry offsets) and
    the references again at commit.

    `rows_numbered`: the rows also carry `n`, numbering them from 1 (the entries' ids are
    taken from it instead of being numbered by the insert)."""
    if not idempotency_key or not kind:
        raise ValueError("idempotency_key and kind are required")
    with transaction.atomic():
        ledger_chain_lock()
        existing = journal_transaction_replayed(idempotency_key, kind)
        if existing is not None:
            return existing, False
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
        hashing = {**params, **entries_digest_params(prev_hash, header, payee_kind, balancing)}
        with connection.cursor() as cursor:
            cursor.execute(entries_digest_sql(rows_sql), hashing)
            count, total, bad, digest = cursor.fetchone()
            if count and digest is None:
                # The aggregates did not see the rows in account order: each sorts its own.
                cursor.execute(entries_digest_sql(rows_sql, ordered_aggregates=True), hashing)
                count, total, bad, digest = cursor.fetchone()
        if bad:
            raise ValueError("payee rows must be non-zero, on payee accounts only")
        if not count or not total:
            raise ValueError(f"{idempotency_key}: nothing to post")
        journal = JournalTransaction.objects.create(
            sequence=sequence,
            idempotency_key=idempotency_key,
            kind=kind,
            created_at=created_at,
            prev_hash=prev_hash,
            hash=digest,
        )
        with connection.cursor() as cursor:
            # count payee entries and the balancing one: [first, first + count].
            cursor.execute(_IDS_SQL, [count + 1, count + 1])
            (first,) = cursor.fetchone()
            if rows_numbered:
                insert = _INSERT_SQL.format(
                    rows=rows_sql, number="r.n", where=" WHERE r.n BETWEEN 1 AND %(_count)s"
                )
            else:
                insert = _INSERT_SQL.format(rows=rows_sql, number="row_number() OVER ()", where="")
            cursor.execute(
                insert,
                {
                    **params,
                    "_first": first,
                    "_count": count,
                    "_tx": journal.pk,
                    "_currency": balancing.currency,
                },
            )
            if cursor.rowcount != count:
                raise RuntimeError(
                    f"{idempotency_key}: wrote {cursor.rowcount} payee entries, hashed {count}"
                )
            cursor.execute(
                "INSERT INTO payouts_entry (id, transaction_id, account_id, currency, amount)"
                " VALUES (%s, %s, %s, %s, %s)",
                [first + count, journal.pk, balancing.id, balancing.currency, -total],
            )
        return journal, True
