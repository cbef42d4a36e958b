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

# The payee rows; the balancing entry is its own statement: in one statement, its account (a
# platform account, often far from the payees' in id order) would widen the id range whose
# accounts the entries' trigger reads to check the references.
_INSERT_SQL = """
INSERT INTO payouts_entry (transaction_id, account_id, currency, amount)
SELECT %(_tx)s, r.account_id, %(_currency)s, r.amount FROM ({rows}) r
"""


def journal_post_payee_query(
    *,
    idempotency_key: str,
    kind: str,
    rows_sql: str,
    params: dict,
    payee_kind: str,
    balancing: AccountRef,
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
    the references again at commit."""
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
            cursor.execute(
                _INSERT_SQL.format(rows=rows_sql),
                {**params, "_tx": journal.pk, "_currency": balancing.currency},
            )
            if cursor.rowcount != count:
                raise RuntimeError(
                    f"{idempotency_key}: wrote {cursor.rowcount} payee entries, hashed {count}"
                )
            cursor.execute(
                "INSERT INTO payouts_entry (transaction_id, account_id, currency, amount)"
                " VALUES (%s, %s, %s, %s)",
                [journal.pk, balancing.id, balancing.currency, -total],
            )
        return journal, True
