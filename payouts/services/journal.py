"""Posting journal transactions: the chain lock, the hash chain, ledger accounts and the
set-based insert of entries. The money-specific services (sales, refunds, holds, fees) and,
later, payout runs build their entries and call `journal_post`.

Lock order of every posting (to avoid deadlocks):
  1. rows the caller locked (an order, a payout line ...), in the caller's own order;
  2. ledger accounts created on first use (INSERT ... ON CONFLICT, ordered by payee id, so two
     postings creating overlapping accounts wait on each other instead of deadlocking);
  3. the chain lock, last, held until the outermost transaction commits. Nothing that can wait
     on another posting may run after it: no account creation, no network call.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from payouts.models import GENESIS_HASH, JournalTransaction, LedgerAccount

# pg_advisory_xact_lock key of the ledger chain; migration 0002's insert trigger takes the same
# lock, so even a raw INSERT appends behind a posting in progress instead of forking the chain.
CHAIN_LOCK_KEY = 0x5041594F55545331  # "PAYOUTS1"
HASH_VERSION = 1
COPY_CHUNK = 10_000


class AccountRef(NamedTuple):
    """What a posting needs to know about an account (also what the hash binds an entry to)."""

    id: int
    kind: str
    payee_id: int | None
    currency: str


@dataclass
class EntryLines:
    """The entries of one posting, column-wise (a sale to 100,000 payees is 100,000 lines; five
    lists of ints are far cheaper than 100,000 objects). Zero amounts are dropped."""

    account_ids: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    payee_ids: list[int | None] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)
    amounts: list[int] = field(default_factory=list)

    def add(self, account: AccountRef, amount: int) -> None:
        if amount:
            self.account_ids.append(account.id)
            self.kinds.append(account.kind)
            self.payee_ids.append(account.payee_id)
            self.currencies.append(account.currency)
            self.amounts.append(amount)

    def add_many(
        self,
        *,
        kind: str,
        currency: str,
        account_ids: Sequence[int],
        payee_ids: Sequence[int | None],
        amounts: Sequence[int],
    ) -> None:
        """Same-kind, same-currency accounts (e.g. every payee's pending account) at once."""
        if not len(account_ids) == len(payee_ids) == len(amounts):
            raise ValueError("account_ids, payee_ids and amounts differ in length")
        if all(amounts):  # the usual case, at C speed
            kept_ids, kept_payees, kept_amounts = account_ids, payee_ids, amounts
        else:
            kept = [i for i, amount in enumerate(amounts) if amount]
            kept_ids = [account_ids[i] for i in kept]
            kept_payees = [payee_ids[i] for i in kept]
            kept_amounts = [amounts[i] for i in kept]
        self.account_ids.extend(kept_ids)
        self.payee_ids.extend(kept_payees)
        self.amounts.extend(kept_amounts)
        self.kinds.extend([kind] * len(kept_amounts))
        self.currencies.extend([currency] * len(kept_amounts))

    def __len__(self) -> int:
        return len(self.amounts)

    def totals(self) -> dict[str, int]:
        currencies = set(self.currencies)
        if len(currencies) == 1:
            return {currencies.pop(): sum(self.amounts)}
        totals: dict[str, int] = {}
        for currency, amount in zip(self.currencies, self.amounts, strict=True):
            totals[currency] = totals.get(currency, 0) + amount
        return totals


# --- hash chain ---------------------------------------------------------------------------------


def hash_timestamp(value: datetime) -> str:
    """Fixed-width UTC with microseconds (isoformat() drops ".000000" when it is zero)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hash_header(
    *,
    sequence: int,
    idempotency_key: str,
    kind: str,
    created_at: datetime,
    dataset_version_id: int | None,
    share_table_id: int | None,
    related_transaction_id: int | None,
    external_reference: str,
) -> str:
    """The transaction's own fields, canonical JSON (sorted keys, no whitespace, ASCII)."""
    return json.dumps(
        {
            "v": HASH_VERSION,
            "sequence": sequence,
            "idempotency_key": idempotency_key,
            "kind": kind,
            "created_at": hash_timestamp(created_at),
            "dataset_version": dataset_version_id,
            "share_table": share_table_id,
            "related_transaction": related_transaction_id,
            "external_reference": external_reference,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )


def _int64_bytes(values: Sequence[int]) -> bytes:
    packed = array("q", values)
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tobytes()


def hash_entries(
    account_ids: Sequence[int],
    kinds: Sequence[str],
    payee_ids: Sequence[int | None],
    currencies: Sequence[str],
    amounts: Sequence[int],
) -> bytes:
    """Canonical serialisation of a transaction's entries, given in canonical order (ascending
    account id; one entry per account): the entry count, then the account ids, the payee ids
    (0 for a platform account) and the amounts as signed 64-bit little-endian integers, then the
    account kinds and the currencies, each joined by newlines (neither can contain one).
    Column-wise and fixed-width: unambiguous, and built at C speed for 100,000 entries. Binding
    the account's kind and payee makes an account silently re-assigned to another payee show."""
    return b"".join(
        [
            struct.pack("<q", len(account_ids)),
            _int64_bytes(account_ids),
            _int64_bytes([0 if p is None else p for p in payee_ids]),
            _int64_bytes(amounts),
            "\n".join(kinds).encode("ascii"),
            b"\n",
            "\n".join(currencies).encode("ascii"),
        ]
    )


def chain_hash(prev_hash: str, header: str, entries: bytes) -> str:
    """hash = SHA-256(prev_hash \\n header \\n entries), hex."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(header.encode("ascii"))
    digest.update(b"\n")
    digest.update(entries)
    return digest.hexdigest()


# --- locking ------------------------------------------------------------------------------------


def ledger_chain_lock() -> None:
    """Take the chain lock (transaction-scoped advisory lock): postings append one at a time, so
    sequence and prev_hash are read from a head that cannot move under us. Must be called inside
    `transaction.atomic()`; released at the outermost commit or rollback."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger postings must run inside transaction.atomic()")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def ledger_head() -> tuple[int, str]:
    """(sequence, hash) of the last transaction, or (0, GENESIS_HASH) for an empty ledger."""
    head = JournalTransaction.objects.order_by("-sequence").values_list("sequence", "hash").first()
    return head if head else (0, GENESIS_HASH)


# --- accounts -----------------------------------------------------------------------------------


def platform_account(*, kind: str, currency: str) -> AccountRef:
    """The platform-wide account of `kind` in `currency`, created on first use (race-safe)."""
    if kind in LedgerAccount.PAYEE_KINDS:
        raise ValueError(f"{kind} is a payee account kind")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO payouts_ledgeraccount (kind, payee_id, currency, created_at)
            VALUES (%s, NULL, %s, now())
            ON CONFLICT (kind, currency) WHERE payee_id IS NULL DO NOTHING
            """,
            [kind, currency],
        )
        cursor.execute(
            "SELECT id FROM payouts_ledgeraccount"
            " WHERE kind = %s AND currency = %s AND payee_id IS NULL",
            [kind, currency],
        )
        (account_id,) = cursor.fetchone()
    return AccountRef(account_id, kind, None, currency)


def payee_accounts_ensure(*, kind: str, currency: str, payee_ids: Sequence[int]) -> dict[int, int]:
    """{payee_id: account_id} of the payees' accounts of `kind` in `currency`, creating missing
    ones (set-based; inserted in payee order so concurrent creators cannot deadlock). Call it
    before `ledger_chain_lock()`."""
    if kind not in LedgerAccount.PAYEE_KINDS:
        raise ValueError(f"{kind} is not a payee account kind")
    ids = list(payee_ids)
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO payouts_ledgeraccount (kind, payee_id, currency, created_at)
            SELECT %(kind)s, p.payee_id, %(currency)s, now()
            FROM unnest(%(ids)s::bigint[]) AS p(payee_id)
            WHERE NOT EXISTS (
                SELECT 1 FROM payouts_ledgeraccount a
                WHERE a.payee_id = p.payee_id AND a.kind = %(kind)s AND a.currency = %(currency)s
            )
            ORDER BY p.payee_id
            ON CONFLICT (payee_id, kind, currency) WHERE payee_id IS NOT NULL DO NOTHING
            """,
            {"kind": kind, "currency": currency, "ids": ids},
        )
        cursor.execute(
            """
            SELECT payee_id, id FROM payouts_ledgeraccount
            WHERE kind = %s AND currency = %s AND payee_id = ANY(%s::bigint[])
            """,
            [kind, currency, ids],
        )
        return dict(cursor.fetchall())


def payee_account(*, payee_id: int, kind: str, currency: str) -> AccountRef:
    """One payee's account (created on first use)."""
    account_id = payee_accounts_ensure(kind=kind, currency=currency, payee_ids=[payee_id])[payee_id]
    return AccountRef(account_id, kind, payee_id, currency)


# --- posting ------------------------------------------------------------------------------------


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


# COPY ... (FORMAT binary): signature, flags, header extension length; trailer -1.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
# One row: field count, then (length, value) for transaction_id int8, account_id int8,
# currency varchar(3), amount int8 = 45 bytes; offsets of the values that vary per row:
_ROW_SIZE, _ACCOUNT_AT, _CURRENCY_AT, _AMOUNT_AT = 45, 18, 30, 37


def _int64_be(values: Sequence[int]) -> bytes:
    packed = array("q", values)
    if sys.byteorder == "little":
        packed.byteswap()
    return packed.tobytes()


def _copy_rows(tx_id: int, ids: list, currencies: list, amounts: list) -> bytearray:
    """The entries as binary COPY rows, built column-wise at C speed: a template row repeated,
    then each byte position of the varying columns written with one strided slice assignment
    (a text COPY would format 100,000 lines in Python and make the server parse them)."""
    n = len(ids)
    template = (
        struct.pack(">hiqi", 4, 8, tx_id, 8)
        + bytes(8)
        + struct.pack(">i", 3)
        + bytes(3)
        + struct.pack(">i", 8)
        + bytes(8)
    )
    rows = bytearray(template * n)
    account_bytes, amount_bytes = _int64_be(ids), _int64_be(amounts)
    if any(len(c) != 3 for c in set(currencies)):
        raise ValueError("currencies must be three-letter codes")
    currency_bytes = "".join(currencies).encode("ascii")
    for k in range(8):
        rows[_ACCOUNT_AT + k :: _ROW_SIZE] = account_bytes[k::8]
        rows[_AMOUNT_AT + k :: _ROW_SIZE] = amount_bytes[k::8]
    for k in range(3):
        rows[_CURRENCY_AT + k :: _ROW_SIZE] = currency_bytes[k::3]
    return rows


def _copy_entries(tx_id: int, ids: list, currencies: list, amounts: list) -> None:
    """One binary COPY for all entries, sent in chunks so PostgreSQL starts inserting while the
    rest is still on its way."""
    rows = memoryview(_copy_rows(tx_id, ids, currencies, amounts))
    chunk = COPY_CHUNK * _ROW_SIZE
    # Django does not wrap psycopg's copy(): translate its errors like any query's.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.copy(
            "COPY payouts_entry (transaction_id, account_id, currency, amount)"
            " FROM STDIN (FORMAT binary)"
        ) as copy,
    ):
        copy.write(_COPY_HEADER)
        for start in range(0, len(rows), chunk):
            copy.write(rows[start : start + chunk])
        copy.write(_COPY_TRAILER)


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
        existing = journal_transaction_existing(idempotency_key)
        if existing is not None:
            if existing.kind != kind:
                raise ValueError(
                    f"idempotency key {idempotency_key} was used for a {existing.kind} posting"
                )
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
        if ids:
            _copy_entries(journal.pk, ids, currencies, amounts)
        return journal, True
