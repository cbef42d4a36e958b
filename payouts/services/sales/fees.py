"""The payment processor's fees: an expense of the platform, never taken from payees' shares."""

from __future__ import annotations

from django.db import transaction

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
from payouts.services.sales.remainder import _sale_of

Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind


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
