"""What is left of a sale after its refunds, and the lookups the postings that take money back
out of a sale (refunds, hold releases) share."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Exists, OuterRef

from marketplace.services.errors import NotFound
from payouts.models import Entry, JournalTransaction, LedgerAccount

Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind


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
                WHERE t.id = %(sale)s OR (
                    t.related_transaction_id = %(sale)s AND t.kind IN (%(refund)s, %(loss)s)
                )
            )
            GROUP BY a.kind, a.payee_id, a.currency
            ORDER BY a.payee_id NULLS FIRST, a.kind
            """,
            {"sale": sale.pk, "refund": TxKind.REFUND, "loss": TxKind.DISPUTE_LOSS},
        )
        rows = cursor.fetchall()
        released = _shares_available(sale)
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


def _shares_available(sale: JournalTransaction) -> bool:
    """Whether the sale's payee shares sit in AVAILABLE: its hold was released and no dispute
    hold moved them back to PENDING (a hold with entries not yet followed by its release)."""
    kinds = {TxKind.HOLD_RELEASE, TxKind.DISPUTE_HOLD, TxKind.DISPUTE_RELEASE, TxKind.DISPUTE_LOSS}
    rows = list(
        JournalTransaction.objects.filter(related_transaction=sale, kind__in=kinds)
        .annotate(moved=Exists(Entry.objects.filter(transaction=OuterRef("pk"))))
        .values_list("kind", "external_reference", "moved")
    )
    if not any(kind == TxKind.HOLD_RELEASE for kind, _, _ in rows):
        return False
    moved = {ref for kind, ref, entry in rows if kind == TxKind.DISPUTE_HOLD and entry}
    # Closed: won (moved back) or lost (taken out of PENDING; nothing is left of the sale).
    closed = {ref for kind, ref, _ in rows if kind in (TxKind.DISPUTE_RELEASE, TxKind.DISPUTE_LOSS)}
    return not (moved - closed)


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
