"""The ledger's hash chain (the canonical serialisation each transaction's hash covers) and the
chain lock that makes postings append one at a time."""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from array import array
from collections.abc import Sequence
from datetime import UTC, datetime

from django.db import connection

from payouts.models import GENESIS_HASH, JournalTransaction

# pg_advisory_xact_lock key of the ledger chain; migration 0002's insert trigger takes the same
# lock, so even a raw INSERT appends behind a posting in progress instead of forking the chain.
CHAIN_LOCK_KEY = 0x5041594F55545331  # "PAYOUTS1"
HASH_VERSION = 1


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
