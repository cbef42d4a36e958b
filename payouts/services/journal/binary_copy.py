"""The set-based insert of a transaction's entries: one binary COPY, whatever their number."""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Sequence

from django.db import connection

COPY_CHUNK = 10_000

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
    rest is still on its way; each chunk's rows are built just before it is sent, so building
    the next overlaps the server inserting the last (100 ms of row building at a million
    entries no longer comes before the first byte)."""
    if any(len(c) != 3 for c in set(currencies)):  # before the COPY starts
        raise ValueError("currencies must be three-letter codes")
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
        for start in range(0, len(ids), COPY_CHUNK):
            stop = start + COPY_CHUNK
            copy.write(
                _copy_rows(tx_id, ids[start:stop], currencies[start:stop], amounts[start:stop])
            )
        copy.write(_COPY_TRAILER)
