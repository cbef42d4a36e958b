"""`journal_post`: append one balanced, hash-chained journal transaction to the ledger."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from payouts.models import JournalTransaction
from payouts.services.journal.binary_copy import _copy_entries
from payouts.services.journal.chain import (
    chain_hash,
    hash_entries,
    hash_header,
    ledger_chain_lock,
    ledger_head,
)
from payouts.services.journal.entries import EntryLines

_LARGE = 20_000  # entries
_WORK_MEM_PER_ENTRY = 160  # bytes: a million entries' COPY checked without a temporary file


def _canonical_order(lines: EntryLines) -> tuple[list, list, list, list, list]:
    """The columns sorted by account id (the hash's canonical order; also the order in which
    entries are written). Usually already sorted: payee accounts come in account order."""
    ids = lines.account_ids
    columns = (ids, lines.kinds, lines.payee_ids, lines.currencies, lines.amounts)
    ascending = sorted(ids)  # linear on sorted input
    if ascending == ids:
        return columns
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return tuple([column[i] for i in order] for column in columns)


def _check_account_refs(lines: EntryLines) -> None:
    if not lines.account_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, kind, payee_id, currency FROM payouts_ledgeraccount"
            " WHERE id = ANY(%s::bigint[])",
            [lines.account_ids],
        )
        actual = {row[0]: row[1:] for row in cursor.fetchall()}
    for account_id, kind, payee_id, currency in zip(
        lines.account_ids, lines.kinds, lines.payee_ids, lines.currencies, strict=True
    ):
        if actual.get(account_id) != (kind, payee_id, currency):
            raise ValueError(
                f"account {account_id} is {actual.get(account_id)}, "
                f"not {(kind, payee_id, currency)}"
            )


def journal_transaction_existing(idempotency_key: str) -> JournalTransaction | None:
    return JournalTransaction.objects.filter(idempotency_key=idempotency_key).first()


def journal_transaction_replayed(idempotency_key: str, kind: str) -> JournalTransaction | None:
    """The posting already made under this key (a replay), None if none; a key used for a
    posting of another kind is a programming error."""
    existing = journal_transaction_existing(idempotency_key)
    if existing is not None and existing.kind != kind:
        raise ValueError(
            f"idempotency key {idempotency_key} was used for a {existing.kind} posting"
        )
    return existing


def journal_post(
    *,
    idempotency_key: str,
    kind: str,
    lines: EntryLines,
    dataset_version_id: int | None = None,
    share_table_id: int | None = None,
    related_transaction_id: int | None = None,
    external_reference: str = "",
    check_accounts: bool = True,
) -> tuple[JournalTransaction, bool]:
    """Append one journal transaction with `lines` to the ledger; returns (transaction,
    created). Rules:

    * idempotent: if `idempotency_key` was posted before, nothing is written and the existing
      transaction is returned with created=False (checked again under the chain lock, so
      concurrent callers with one key post once); a different `kind` under the same key is a
      programming error (ValueError). Callers compare their other parameters (see sale_post);
    * balanced: entries must sum to zero per currency (checked here, and again by PostgreSQL at
      commit); at most one entry per account; no zero amounts;
    * chained: sequence = head + 1, prev_hash = head's hash, hash = SHA-256 over prev_hash and
      the canonical serialisation of the transaction and its entries; taken under the chain
      lock, so concurrent postings never fork the chain;
    * set-based: the entries are written with one COPY, whatever their number.

    Accounts must exist already (create them with `payee_accounts_ensure` / `platform_account`
    before calling, see the lock order in the module docstring). The kind, payee and currency
    given for each account are checked against the account rows (they are hashed, so a wrong
    one would make the transaction look tampered with); `check_accounts=False` skips that for
    callers that just read them from those rows. Runs inside the caller's transaction (or its
    own), holding the chain lock until commit."""
    if not idempotency_key or not kind:
        raise ValueError("idempotency_key and kind are required")
    unbalanced = {c: t for c, t in lines.totals().items() if t}
    if unbalanced:
        raise ValueError(f"unbalanced entries for {idempotency_key}: {unbalanced}")
    if len(set(lines.account_ids)) != len(lines.account_ids):
        raise ValueError(f"an account appears twice in {idempotency_key}")

    if check_accounts:
        _check_account_refs(lines)

    with transaction.atomic():
        ledger_chain_lock()
        existing = journal_transaction_replayed(idempotency_key, kind)
        if existing is not None:
            return existing, False

        head_sequence, prev_hash = ledger_head()
        sequence = head_sequence + 1
        created_at = timezone.now()
        ids, kinds, payees, currencies, amounts = _canonical_order(lines)
        header = hash_header(
            sequence=sequence,
            idempotency_key=idempotency_key,
            kind=kind,
            created_at=created_at,
            dataset_version_id=dataset_version_id,
            share_table_id=share_table_id,
            related_transaction_id=related_transaction_id,
            external_reference=external_reference,
        )
        digest = chain_hash(
            prev_hash, header, hash_entries(ids, kinds, payees, currencies, amounts)
        )
        journal = JournalTransaction.objects.create(
            sequence=sequence,
            idempotency_key=idempotency_key,
            kind=kind,
            created_at=created_at,
            dataset_version_id=dataset_version_id,
            share_table_id=share_table_id,
            related_transaction_id=related_transaction_id,
            external_reference=external_reference,
            prev_hash=prev_hash,
            hash=digest,
        )
        if len(ids) > _LARGE:
            # The entries' statement trigger keeps the inserted rows (its transition table) in
            # work_mem: at the default 4 MB, 100,000 entries spill to a temporary file, and at
            # 64 MB a million spill 50 MB (their account check's hash table too).
            megabytes = max(64, -(-len(ids) * _WORK_MEM_PER_ENTRY // 2**20))
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL work_mem = '{megabytes}MB'")
        if ids:
            _copy_entries(journal.pk, ids, currencies, amounts)
        return journal, True
