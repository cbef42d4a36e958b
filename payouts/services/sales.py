"""Money in and out of the ledger for sales: the sale itself, refunds and the processor's fees.

Amount parameters are integer cents (as Stripe and orders have them); the ledger stores
micro-units (1 cent = 10,000 micro). Every service is idempotent on a key derived from our own
rows or the processor's ids, and returns the journal transaction.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from django.db import connection, transaction

from contributors.models import ShareTable
from contributors.selectors import share_table_current
from marketplace.models import DatasetVersion
from marketplace.services.errors import Conflict, Invalid, NotFound
from payouts.models import MICRO_PER_CENT, Entry, JournalTransaction, LedgerAccount
from payouts.services.journal import (
    AccountRef,
    EntryLines,
    journal_post,
    journal_transaction_existing,
    ledger_chain_lock,
    platform_account,
)
from payouts.services.split import split_allocate

Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind
_CURRENCY = re.compile(r"^[a-z]{3}$")
PERCENTAGE_TOTAL = 10_000  # basis points


def rotation_key_for(idempotency_key: str) -> int:
    """The split's tie-break rotation of a posting: stable for a key, spread across keys."""
    return int.from_bytes(hashlib.sha256(idempotency_key.encode()).digest()[:8], "big")


def _require_int(name: str, value, *, minimum: int | None = None, nonzero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{name} must be an integer number of cents (got {value!r}).")
    if minimum is not None and value < minimum:
        raise Invalid(f"{name} must be at least {minimum} (got {value}).")
    if nonzero and value == 0:
        raise Invalid(f"{name} must not be zero.")
    return value


def _require_ref(name: str, value) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise Invalid(f"{name} must be a non-empty reference of at most 200 characters.")
    return value


def _require_currency(value) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise Invalid(f'currency must be a lowercase ISO code like "usd" (got {value!r}).')
    return value


def _platform_amounts(journal: JournalTransaction) -> dict[str, tuple[str, int]]:
    """{account kind: (currency, amount)} of a transaction's platform-account entries."""
    return {
        kind: (currency, amount)
        for kind, currency, amount in Entry.objects.filter(
            transaction=journal, account__payee__isnull=True
        ).values_list("account__kind", "currency", "amount")
    }


def _replay_mismatch(key: str, what: str) -> Conflict:
    return Conflict(
        f"Idempotency key {key} was already posted with a different {what}.",
        code="idempotency_key_reused",
    )


# --- sales ----------------------------------------------------------------------------------------


def _share_accounts(*, table: ShareTable, currency: str) -> tuple[list[int], list[int], list[int]]:
    """(pending account ids, payee ids, weights) of the table's lines in payee order (line order
    is presentation only), creating missing pending accounts set-based first if there are any
    (before the chain lock: see journal's lock order). One merge join in the usual case."""
    params = {"kind": Kind.PAYEE_PENDING, "currency": currency, "table": table.pk}
    select = """
        SELECT a.id, sl.payee_id, sl.weight
        FROM contributors_shareline sl
        LEFT JOIN payouts_ledgeraccount a
          ON a.payee_id = sl.payee_id AND a.kind = %(kind)s AND a.currency = %(currency)s
        WHERE sl.table_id = %(table)s
        ORDER BY sl.payee_id
    """
    with connection.cursor() as cursor:
        cursor.execute(select, params)
        rows = cursor.fetchall()
        # Three comprehensions: zip(*rows) over 100,000 rows is several times slower.
        account_ids = [r[0] for r in rows]
        if None in account_ids:
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
            cursor.execute(select, params)
            rows = cursor.fetchall()
            account_ids = [r[0] for r in rows]
    return account_ids, [r[1] for r in rows], [r[2] for r in rows]


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
        clearing = platform_account(kind=Kind.PAYMENT_CLEARING, currency=currency)
        revenue = platform_account(kind=Kind.PLATFORM_REVENUE, currency=currency)
        account_ids, payee_ids, weights = _share_accounts(table=table, currency=currency)
        if not weights:
            raise Invalid(f"Share table {table.pk} has no lines.")
        if table.basis == ShareTable.Basis.PERCENTAGE and sum(weights) != PERCENTAGE_TOTAL:
            raise Invalid(f"Share table {table.pk} percentages do not sum to 100.")
        base_micro = (gross_cents - platform_fee_cents) * MICRO_PER_CENT
        shares = split_allocate(base_micro, weights, rotation_key=rotation_key_for(key))

        lines = EntryLines()
        lines.add(clearing, gross_cents * MICRO_PER_CENT)
        lines.add(revenue, -platform_fee_cents * MICRO_PER_CENT)
        lines.add_many(
            kind=Kind.PAYEE_PENDING,
            currency=currency,
            account_ids=account_ids,
            payee_ids=payee_ids,
            amounts=[-share for share in shares],
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


# --- what is left of a sale -----------------------------------------------------------------------


@dataclass(frozen=True)
class SaleRemainder:
    """What of a sale has not been refunded yet, in micro-units, each as a positive amount: the
    gross still in clearing, the platform's fee, and each payee's share (pending or available)."""

    currency: str
    gross: int
    platform_fee: int
    payees: dict[int, int]  # payee id -> share not refunded (payee-id order)
    released: bool


def sale_remainder(sale: JournalTransaction) -> SaleRemainder:
    """Sum the sale's entries and those of its refunds per account kind and payee (hold
    releases move money between a payee's own accounts and do not change what is left)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.kind, a.payee_id, a.currency, sum(e.amount)
            FROM payouts_entry e
            JOIN payouts_ledgeraccount a ON a.id = e.account_id
            WHERE e.transaction_id IN (
                SELECT t.id FROM payouts_journaltransaction t
                WHERE t.id = %(sale)s OR (t.related_transaction_id = %(sale)s AND t.kind = %(refund)s)
            )
            GROUP BY a.kind, a.payee_id, a.currency
            ORDER BY a.payee_id NULLS FIRST, a.kind
            """,
            {"sale": sale.pk, "refund": TxKind.REFUND},
        )
        rows = cursor.fetchall()
        released = JournalTransaction.objects.filter(
            related_transaction=sale, kind=TxKind.HOLD_RELEASE
        ).exists()
    currency, gross, fee, payees = None, 0, 0, {}
    for kind, payee_id, row_currency, total in rows:
        total = int(total)
        if kind == Kind.PAYMENT_CLEARING:
            currency, gross = row_currency, total
        elif kind == Kind.PLATFORM_REVENUE:
            fee = -total
        elif kind in LedgerAccount.PAYEE_KINDS:
            payees[payee_id] = payees.get(payee_id, 0) - total
    if currency is None:
        raise RuntimeError(f"sale {sale.pk} has no payment-clearing entry")
    if gross != fee + sum(payees.values()):
        raise RuntimeError(f"sale {sale.pk} does not add up: {gross} != {fee} + payees")
    return SaleRemainder(currency, gross, fee, payees, released)


def _sale_of(*, order_ref: str | None, sale: JournalTransaction | None) -> JournalTransaction:
    if (order_ref is None) == (sale is None):
        raise ValueError("give exactly one of order_ref or sale")
    key = f"sale:{order_ref}" if sale is None else sale.idempotency_key
    found = JournalTransaction.objects.filter(idempotency_key=key, kind=TxKind.SALE).first()
    if found is None:
        raise NotFound(f"No sale {key} in the ledger.")
    return found


def _payee_accounts_existing(*, kind: str, currency: str, payee_ids: list[int]) -> dict[int, int]:
    """{payee_id: account_id} of accounts that must exist already (created by the sale or the
    hold release); read only, so safe under the chain lock. One array parameter, whatever the
    number of payees."""
    if not payee_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT payee_id, id FROM payouts_ledgeraccount"
            " WHERE kind = %s AND currency = %s AND payee_id = ANY(%s::bigint[])",
            [kind, currency, payee_ids],
        )
        accounts = dict(cursor.fetchall())
    if len(accounts) != len(set(payee_ids)):
        missing = sorted(set(payee_ids) - set(accounts))[:5]
        raise RuntimeError(f"{kind} {currency} accounts missing for payees {missing}")
    return accounts


# --- refunds --------------------------------------------------------------------------------------


def _check_refund_replay(
    journal: JournalTransaction, *, sale: JournalTransaction, amount_cents: int
) -> JournalTransaction:
    key = journal.idempotency_key
    if journal.kind != TxKind.REFUND or journal.related_transaction_id != sale.pk:
        raise _replay_mismatch(key, "sale")
    clearing = _platform_amounts(journal).get(Kind.PAYMENT_CLEARING)
    if clearing is None or clearing[1] != -amount_cents * MICRO_PER_CENT:
        raise _replay_mismatch(key, "amount")
    return journal


def refund_post(
    *,
    refund_id: str,
    amount_cents: int,
    order_ref: str | None = None,
    sale: JournalTransaction | None = None,
) -> JournalTransaction:
    """Record a refund (idempotency key `refund:<refund_id>`, the processor's refund id) of
    `amount_cents` of a sale, given by `order_ref` or the sale transaction itself.

    Rules: 0 < amount <= what of the sale has not been refunded yet (else Invalid, code
    `refund_exceeds_sale`), so refunds never exceed the sale. The refund leaves payment clearing
    and is taken back proportionally: split (largest remainder, rotated by the refund's key)
    between the platform fee and the base price in proportion to what is left of each, then the
    base part over the payees in proportion to what is left of each payee's share. Each part is
    at most what is left, and the refund that completes a full refund takes back exactly
    everything. Before the sale's hold release the payees' part comes out of PENDING; after it,
    out of AVAILABLE, which goes negative if the money was already paid out (later payouts net
    it). Replaying a refund id returns the first transaction; the same id with another sale or
    amount is a Conflict."""
    refund_id = _require_ref("refund_id", refund_id)
    amount_cents = _require_int("amount_cents", amount_cents, minimum=1)
    key = f"refund:{refund_id}"
    sale = _sale_of(order_ref=order_ref, sale=sale)
    existing = journal_transaction_existing(key)
    if existing is not None:
        return _check_refund_replay(existing, sale=sale, amount_cents=amount_cents)

    with transaction.atomic():
        # The remainder and the hold state must not move until this refund is posted. Every
        # account this needs exists already (created by the sale and the hold release).
        ledger_chain_lock()
        existing = journal_transaction_existing(key)
        if existing is not None:
            return _check_refund_replay(existing, sale=sale, amount_cents=amount_cents)
        left = sale_remainder(sale)
        refund_micro = amount_cents * MICRO_PER_CENT
        if refund_micro > left.gross:
            raise Invalid(
                f"A refund of {amount_cents} cents exceeds the {left.gross // MICRO_PER_CENT} "
                f"cents of sale {sale.idempotency_key} not refunded yet.",
                code="refund_exceeds_sale",
            )
        rotation = rotation_key_for(key)
        base_remaining = left.gross - left.platform_fee
        fee_part, base_part = split_allocate(
            refund_micro, [left.platform_fee, base_remaining], rotation_key=rotation
        )
        payee_ids = list(left.payees)
        # A sale whose base price was 0 (all fee) credited no payee: nothing to take back.
        payee_parts = (
            split_allocate(base_part, [left.payees[p] for p in payee_ids], rotation_key=rotation)
            if payee_ids
            else []
        )
        if base_part and not payee_ids:
            raise RuntimeError(f"sale {sale.pk}: a base part to refund but no payee entries")
        payee_kind = Kind.PAYEE_AVAILABLE if left.released else Kind.PAYEE_PENDING
        touched = [(p, part) for p, part in zip(payee_ids, payee_parts, strict=True) if part]
        accounts = _payee_accounts_existing(
            kind=payee_kind, currency=left.currency, payee_ids=[p for p, _ in touched]
        )

        lines = EntryLines()
        lines.add(
            platform_account(kind=Kind.PAYMENT_CLEARING, currency=left.currency), -refund_micro
        )
        lines.add(platform_account(kind=Kind.PLATFORM_REVENUE, currency=left.currency), fee_part)
        lines.add_many(
            kind=payee_kind,
            currency=left.currency,
            account_ids=[accounts[p] for p, _ in touched],
            payee_ids=[p for p, _ in touched],
            amounts=[part for _, part in touched],
        )
        journal, _ = journal_post(
            check_accounts=False,  # read from the account rows just above
            idempotency_key=key,
            kind=TxKind.REFUND,
            lines=lines,
            dataset_version_id=sale.dataset_version_id,
            share_table_id=sale.share_table_id,
            related_transaction_id=sale.pk,
            external_reference=refund_id,
        )
        return journal


# --- processor fees -------------------------------------------------------------------------------


def processor_fee_post(
    *,
    balance_transaction_id: str,
    fee_cents: int,
    currency: str,
    order_ref: str | None = None,
    sale: JournalTransaction | None = None,
) -> JournalTransaction:
    """Record the processor's fee of one balance transaction (idempotency key
    `processor-fee:<balance_transaction_id>`): the platform carries it, so it is an expense
    (processor fees, debit) paid out of payment clearing (credit); payees' shares are never
    reduced by it. A negative fee (a fee refunded by the processor) posts the reverse. Optionally
    linked to the sale it belongs to. Replaying returns the first transaction; the same id with
    another amount or currency is a Conflict."""
    balance_transaction_id = _require_ref("balance_transaction_id", balance_transaction_id)
    fee_cents = _require_int("fee_cents", fee_cents, nonzero=True)
    currency = _require_currency(currency)
    key = f"processor-fee:{balance_transaction_id}"
    related = None
    if order_ref is not None or sale is not None:
        related = _sale_of(order_ref=order_ref, sale=sale)

    def check(journal: JournalTransaction) -> JournalTransaction:
        expected = {Kind.PAYMENT_CLEARING: (currency, -fee_cents * MICRO_PER_CENT)}
        amounts = _platform_amounts(journal)
        amounts.pop(Kind.PROCESSOR_FEES, None)
        if journal.kind != TxKind.PROCESSOR_FEE or amounts != expected:
            raise _replay_mismatch(key, "fee or currency")
        return journal

    existing = journal_transaction_existing(key)
    if existing is not None:
        return check(existing)
    with transaction.atomic():
        fees: AccountRef = platform_account(kind=Kind.PROCESSOR_FEES, currency=currency)
        clearing = platform_account(kind=Kind.PAYMENT_CLEARING, currency=currency)
        lines = EntryLines()
        lines.add(fees, fee_cents * MICRO_PER_CENT)
        lines.add(clearing, -fee_cents * MICRO_PER_CENT)
        journal, created = journal_post(
            idempotency_key=key,
            kind=TxKind.PROCESSOR_FEE,
            lines=lines,
            dataset_version_id=related.dataset_version_id if related else None,
            related_transaction_id=related.pk if related else None,
            external_reference=balance_transaction_id,
        )
    return journal if created else check(journal)
