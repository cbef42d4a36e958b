"""Ledger verification: recompute the hash chain and the balances from the rows themselves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction

from payouts.models import GENESIS_HASH
from payouts.services.journal import chain_hash, hash_entries, hash_header

_CHUNK = 10_000


@dataclass(frozen=True)
class LedgerVerification:
    ok: bool
    transactions: int
    head: str
    problem: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"ledger OK: {self.transactions} transactions, head {self.head}"
        return f"ledger MISMATCH after {self.transactions} good transactions: {self.problem}"


def _stream(sql: str, params: list | None = None) -> Iterator[tuple]:
    """Rows of `sql` through a server-side cursor (a ledger does not fit in memory)."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params or [])
        while rows := cursor.fetchmany(_CHUNK):
            yield from rows


def ledger_verify() -> LedgerVerification:
    """Check, in one consistent snapshot, and report the first mismatch:

    1. the chain: sequences are 1..N without gaps, each prev_hash is the previous hash (the
       genesis hash for #1), and each hash equals SHA-256 recomputed from the transaction's
       fields and its entries;
    2. each transaction's entries sum to zero per currency, and each entry's currency is its
       account's; no entry points at a missing transaction or account;
    3. balances: every account's balance recomputed from the streamed entries equals the
       database's aggregate over the balance index, and the total per currency is zero.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:  # else the caller's transaction decides the snapshot
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _verify()


def _verify() -> LedgerVerification:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT
              (SELECT count(*) FROM payouts_entry e
                 WHERE NOT EXISTS (SELECT 1 FROM payouts_journaltransaction t
                                   WHERE t.id = e.transaction_id)),
              (SELECT count(*) FROM payouts_entry e
                 WHERE NOT EXISTS (SELECT 1 FROM payouts_ledgeraccount a
                                   WHERE a.id = e.account_id))
            """
        )
        orphans_tx, orphans_account = cursor.fetchone()
    if orphans_tx or orphans_account:
        return LedgerVerification(
            False,
            0,
            GENESIS_HASH,
            f"{orphans_tx} entries without a transaction, {orphans_account} without an account",
        )

    transactions = _stream(
        """
        SELECT id, sequence, idempotency_key, kind, created_at, dataset_version_id,
               share_table_id, related_transaction_id, external_reference, prev_hash, hash
        FROM payouts_journaltransaction ORDER BY sequence
        """
    )
    entries = _stream(
        """
        SELECT t.sequence, e.account_id, a.kind, a.payee_id, e.currency, a.currency, e.amount
        FROM payouts_entry e
        JOIN payouts_journaltransaction t ON t.id = e.transaction_id
        JOIN payouts_ledgeraccount a ON a.id = e.account_id
        ORDER BY t.sequence, e.account_id
        """
    )
    try:
        return _walk(transactions, entries)
    finally:  # close the server-side cursors inside the transaction, also after a mismatch
        transactions.close()
        entries.close()


def _walk(transactions: Iterator[tuple], entries: Iterator[tuple]) -> LedgerVerification:
    """Both streams in chain order: check each transaction against its entries, then the
    balances."""
    pending_entry = next(entries, None)
    balances: dict[int, int] = {}
    prev_hash, count = GENESIS_HASH, 0

    def fail(problem: str) -> LedgerVerification:
        return LedgerVerification(False, count, prev_hash, problem)

    for (
        tx_id,
        sequence,
        key,
        kind,
        created_at,
        dataset_version_id,
        share_table_id,
        related_id,
        external_reference,
        stored_prev,
        stored_hash,
    ) in transactions:
        label = f"transaction #{sequence} ({key}, id {tx_id})"
        if sequence != count + 1:
            return fail(f"{label}: expected sequence {count + 1}")
        if stored_prev != prev_hash:
            return fail(f"{label}: prev_hash {stored_prev} is not the previous hash {prev_hash}")
        ids, kinds, payees, currencies, amounts = [], [], [], [], []
        totals: dict[str, int] = {}
        while pending_entry is not None and pending_entry[0] == sequence:
            _, account_id, account_kind, payee_id, currency, account_currency, amount = (
                pending_entry
            )
            if currency != account_currency:
                return fail(
                    f"{label}: entry in {currency} on account {account_id}"
                    f" kept in {account_currency}"
                )
            ids.append(account_id)
            kinds.append(account_kind)
            payees.append(payee_id)
            currencies.append(currency)
            amounts.append(amount)
            totals[currency] = totals.get(currency, 0) + amount
            balances[account_id] = balances.get(account_id, 0) + amount
            pending_entry = next(entries, None)
        unbalanced = {c: t for c, t in totals.items() if t}
        if unbalanced:
            return fail(f"{label}: entries do not sum to zero: {unbalanced}")
        header = hash_header(
            sequence=sequence,
            idempotency_key=key,
            kind=kind,
            created_at=created_at,
            dataset_version_id=dataset_version_id,
            share_table_id=share_table_id,
            related_transaction_id=related_id,
            external_reference=external_reference,
        )
        recomputed = chain_hash(
            prev_hash, header, hash_entries(ids, kinds, payees, currencies, amounts)
        )
        if recomputed != stored_hash:
            return fail(f"{label}: stored hash {stored_hash} but its rows hash to {recomputed}")
        prev_hash, count = stored_hash, count + 1
    if pending_entry is not None:
        return fail(f"entries of transaction #{pending_entry[0]} out of the chain order")

    with connection.cursor() as cursor:
        cursor.execute("SELECT account_id, sum(amount) FROM payouts_entry GROUP BY account_id")
        stored = {account_id: int(total) for account_id, total in cursor.fetchall()}
        cursor.execute(
            "SELECT currency, sum(amount) FROM payouts_entry GROUP BY currency"
            " HAVING sum(amount) <> 0 ORDER BY currency"
        )
        nonzero = cursor.fetchall()
    for account_id in sorted(set(stored) | set(balances)):
        if stored.get(account_id, 0) != balances.get(account_id, 0):
            return fail(
                f"account {account_id}: balance {stored.get(account_id, 0)} but its entries "
                f"sum to {balances.get(account_id, 0)}"
            )
    if nonzero:
        return fail(f"totals per currency are not zero: {dict(nonzero)}")
    return LedgerVerification(True, count, prev_hash)
