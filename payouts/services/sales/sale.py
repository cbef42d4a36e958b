"""A paid sale: the buyer's money into clearing, the fee to the platform, the base price split
over the dataset's share table into the payees' pending balances."""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Sequence
from typing import NamedTuple

from django.db import connection, transaction
from django.db.backends.postgresql.base import ServerBindingCursor

from contributors.models import ShareTable
from contributors.services.shares import share_table_current
from marketplace.models import DatasetVersion
from marketplace.services.errors import Invalid
from payouts.models import MICRO_PER_CENT, JournalTransaction, LedgerAccount
from payouts.services.journal import (
    AccountRef,
    EntryLines,
    journal_post,
    journal_transaction_existing,
    platform_account,
)
from payouts.services.sales.checks import (
    _platform_amounts,
    _replay_mismatch,
    _require_currency,
    _require_int,
    _require_ref,
)
from payouts.services.split import split_allocate

Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind
PERCENTAGE_TOTAL = 10_000  # basis points


def rotation_key_for(idempotency_key: str) -> int:
    """The split's tie-break rotation of a posting: stable for a key, spread across keys."""
    return int.from_bytes(hashlib.sha256(idempotency_key.encode()).digest()[:8], "big")


def _read_row_binary(sql: str, params: dict) -> tuple:
    """The first row of `sql`, its values sent in binary (Django's cursors bind client-side, and
    a client-side binding cursor cannot ask for binary results)."""
    connection.ensure_connection()
    with connection.wrap_database_errors, ServerBindingCursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchone()


def _int64_columns(packed: bytes, width: int) -> list[array]:
    """`width` columns (int64 arrays) of big-endian int64 values packed row after row
    (`int8send`)."""
    values = array("q")
    values.frombytes(packed)
    if sys.byteorder == "little":
        values.byteswap()
    return [values[column::width] for column in range(width)]


# The platform accounts and the share lines with their pending accounts in one statement. The
# lines come as one bytea of (account id, payee id, weight) int8 triples in payee order (line
# order is presentation only): 100,000 rows cost psycopg a row tuple each, three binary arrays
# a length word per element and three aggregates; one string_agg of fixed-width values is
# unpacked at C speed. A missing account is sent as 0 and told apart by the count of accounts
# found, not by the 0.
_SHARE_ACCOUNTS = """
    SELECT
        (SELECT id FROM payouts_ledgeraccount
         WHERE kind = %(clearing)s AND currency = %(currency)s AND payee_id IS NULL),
        (SELECT id FROM payouts_ledgeraccount
         WHERE kind = %(revenue)s AND currency = %(currency)s AND payee_id IS NULL),
        count(*),
        count(s.account_id),
        string_agg(int8send(coalesce(s.account_id, 0)) || int8send(s.payee_id)
                   || int8send(s.weight), '')
    FROM (
        SELECT a.id AS account_id, sl.payee_id, sl.weight
        FROM contributors_shareline sl
        LEFT JOIN payouts_ledgeraccount a
          ON a.payee_id = sl.payee_id AND a.kind = %(kind)s AND a.currency = %(currency)s
        WHERE sl.table_id = %(table)s
        ORDER BY sl.payee_id
    ) s
"""


class _SaleAccounts(NamedTuple):
    clearing: AccountRef
    revenue: AccountRef
    account_ids: list[int]
    payee_ids: list[int]
    weights: Sequence[int]


def _sale_accounts(*, table: ShareTable, currency: str) -> _SaleAccounts:
    """The platform accounts a sale posts to and (pending account ids, payee ids, weights) of
    the table's lines in payee order, read in one statement; missing accounts are created
    set-based first (platform accounts, then payee accounts in payee order, as before: before
    the chain lock, see journal's lock order), then the statement runs again."""
    params = {
        "clearing": Kind.PAYMENT_CLEARING,
        "revenue": Kind.PLATFORM_REVENUE,
        "kind": Kind.PAYEE_PENDING,
        "currency": currency,
        "table": table.pk,
    }
    clearing_id, revenue_id, lines, found, packed = _read_row_binary(_SHARE_ACCOUNTS, params)
    if clearing_id is None or revenue_id is None or found < lines:
        platform_account(kind=Kind.PAYMENT_CLEARING, currency=currency)
        platform_account(kind=Kind.PLATFORM_REVENUE, currency=currency)
        if found < lines:
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    INSERT INTO payouts_ledgeraccount (kind, payee_id, currency, created_at)
                    SELECT %(kind)s, sl.payee_id, %(currency)s, now()
                    FROM contributors_shareline sl
                    WHERE sl.table_id = %(table)s AND NOT EXISTS (
                        SELECT 1 FROM payouts_ledgeraccount a
                        WHERE a.payee_id = sl.payee_id AND a.kind = %(kind)s
                          AND a.currency = %(currency)s
                    )
                    ORDER BY sl.payee_id
                    ON CONFLICT (payee_id, kind, currency) WHERE payee_id IS NOT NULL DO NOTHING
                    """,
                    params,
                )
        clearing_id, revenue_id, lines, found, packed = _read_row_binary(_SHARE_ACCOUNTS, params)
        if found < lines:
            raise RuntimeError(f"share table {table.pk}: payee accounts missing after creation")
    clearing = AccountRef(clearing_id, Kind.PAYMENT_CLEARING, None, currency)
    revenue = AccountRef(revenue_id, Kind.PLATFORM_REVENUE, None, currency)
    if not lines:  # a table without lines
        return _SaleAccounts(clearing, revenue, [], [], [])
    account_column, payee_column, weights = _int64_columns(packed, 3)
    # The weights stay an int64 array (the split reads it as is: ints by construction).
    account_ids, payee_ids = account_column.tolist(), payee_column.tolist()
    # string_agg keeps the order of its sorted subquery (one plain aggregate over it); the
    # split's tie-break depends on that order, so it is checked rather than assumed (a linear
    # pass on sorted input: payee ids are unique within a table).
    if sorted(payee_ids) != payee_ids:
        order = sorted(range(len(payee_ids)), key=payee_ids.__getitem__)
        account_ids = [account_ids[i] for i in order]
        payee_ids = [payee_ids[i] for i in order]
        weights = [weights[i] for i in order]
    return _SaleAccounts(clearing, revenue, account_ids, payee_ids, weights)


def _check_sale_replay(
    journal: JournalTransaction,
    *,
    dataset_version: DatasetVersion,
    gross_cents: int,
    platform_fee_cents: int,
    currency: str,
    share_table: ShareTable | None,
) -> JournalTransaction:
    key = journal.idempotency_key
    if journal.kind != TxKind.SALE or journal.dataset_version_id != dataset_version.pk:
        raise _replay_mismatch(key, "dataset version")
    if share_table is not None and journal.share_table_id != share_table.pk:
        raise _replay_mismatch(key, "share table")
    amounts = _platform_amounts(journal)
    expected = {Kind.PAYMENT_CLEARING: (currency, gross_cents * MICRO_PER_CENT)}
    if platform_fee_cents:
        expected[Kind.PLATFORM_REVENUE] = (currency, -platform_fee_cents * MICRO_PER_CENT)
    if amounts != expected:
        raise _replay_mismatch(key, "amount or currency")
    return journal


def sale_post(
    *,
    order_ref: str,
    dataset_version: DatasetVersion,
    gross_cents: int,
    platform_fee_cents: int,
    currency: str,
    share_table: ShareTable | None = None,
    external_reference: str = "",
) -> JournalTransaction:
    """Record a paid sale (idempotency key `sale:<order_ref>`).

    Money flow, in micro-units: the buyer's gross enters payment clearing (debit); the platform
    fee goes to platform revenue (credit); the base price (gross - fee) is split over the share
    table into each payee's PENDING payable (credits), by largest remainder with a tie-break
    rotated by the sale's key, so the shares sum exactly to the base price. Pending money
    becomes available after the refund window (`holds_release`).

    Rules: 0 <= platform fee <= gross, gross > 0; the share table is the one given (it must
    belong to the version's dataset) or the dataset's current one (created as 100 % to the
    owning organisation if the dataset never had one), and is recorded on the transaction.
    Posting the same order again returns the first transaction and writes nothing; the same
    order with a different amount, currency, version or explicit table is a Conflict."""
    order_ref = _require_ref("order_ref", order_ref)
    gross_cents = _require_int("gross_cents", gross_cents, minimum=1)
    platform_fee_cents = _require_int("platform_fee_cents", platform_fee_cents, minimum=0)
    if platform_fee_cents > gross_cents:
        raise Invalid("platform_fee_cents cannot exceed gross_cents.")
    currency = _require_currency(currency)
    key = f"sale:{order_ref}"
    replay = dict(
        dataset_version=dataset_version,
        gross_cents=gross_cents,
        platform_fee_cents=platform_fee_cents,
        currency=currency,
        share_table=share_table,
    )
    existing = journal_transaction_existing(key)
    if existing is not None:
        return _check_sale_replay(existing, **replay)
    if share_table is not None and share_table.dataset_id != dataset_version.dataset_id:
        raise Invalid("The share table belongs to another dataset than the sold version.")

    with transaction.atomic():
        table = share_table or share_table_current(dataset_version.dataset)
        clearing, revenue, account_ids, payee_ids, weights = _sale_accounts(
            table=table, currency=currency
        )
        if not weights:
            raise Invalid(f"Share table {table.pk} has no lines.")
        if table.basis == ShareTable.Basis.PERCENTAGE and sum(weights) != PERCENTAGE_TOTAL:
            raise Invalid(f"Share table {table.pk} percentages do not sum to 100.")
        base_micro = (gross_cents - platform_fee_cents) * MICRO_PER_CENT
        credits = split_allocate(
            base_micro, weights, rotation_key=rotation_key_for(key), negated=True
        )

        lines = EntryLines()
        lines.add(clearing, gross_cents * MICRO_PER_CENT)
        lines.add(revenue, -platform_fee_cents * MICRO_PER_CENT)
        lines.add_many(
            kind=Kind.PAYEE_PENDING,
            currency=currency,
            account_ids=account_ids,
            payee_ids=payee_ids,
            amounts=credits,
        )
        journal, created = journal_post(
            check_accounts=False,  # read from the account rows just above
            idempotency_key=key,
            kind=TxKind.SALE,
            lines=lines,
            dataset_version_id=dataset_version.pk,
            share_table_id=table.pk,
            external_reference=external_reference,
        )
    if not created:  # a concurrent call with the same order won the chain lock
        return _check_sale_replay(journal, **replay)
    return journal
