"""Disputes (chargebacks) in the ledger: a hold on the sale's payee shares while a dispute is
open, its release when the dispute is won, and a reversal like a full refund when it is lost.

Each posting is idempotent by the processor's dispute id (`dispute-hold:<id>`,
`dispute-release:<id>`, `dispute-loss:<id>`, external_reference = the dispute id), related to
the sale. Stripe's dispute fee is a processor fee (`processor_fee_post` with the dispute's
balance transaction)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Exists, OuterRef

from marketplace.services.errors import Invalid
from payouts.models import MICRO_PER_CENT, Entry, JournalTransaction, LedgerAccount
from payouts.services.journal import (
    EntryLines,
    journal_post,
    journal_transaction_existing,
    ledger_chain_lock,
)
from payouts.services.sales.checks import _require_int, _require_ref
from payouts.services.sales.refunds import reversal_post
from payouts.services.sales.remainder import _payee_accounts_existing, _sale_of, sale_remainder

Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind


def sales_under_open_dispute():
    """Sales with a dispute hold not yet followed by its release or loss (a queryset)."""
    closing = JournalTransaction.objects.filter(
        kind__in=[TxKind.DISPUTE_RELEASE, TxKind.DISPUTE_LOSS],
        related_transaction=OuterRef("related_transaction"),
        external_reference=OuterRef("external_reference"),
    )
    open_holds = JournalTransaction.objects.filter(kind=TxKind.DISPUTE_HOLD).exclude(
        Exists(closing)
    )
    return JournalTransaction.objects.filter(
        kind=TxKind.SALE, pk__in=open_holds.values("related_transaction")
    )


def sale_dispute_open(sale: JournalTransaction) -> bool:
    return sales_under_open_dispute().filter(pk=sale.pk).exists()


def _move(
    *,
    sale: JournalTransaction,
    source: str,
    target: str,
    key: str,
    kind: str,
    dispute_id: str,
    entries: bool = True,
) -> JournalTransaction:
    """Move what is left of each payee's share of the sale from `source` to `target` (both
    accounts exist: the sale made PENDING, the hold release AVAILABLE). Under the chain lock.
    With `entries=False` nothing moves: the transaction only marks the step (a hold while the
    shares are still pending, the release of such a hold)."""
    lines = EntryLines()
    if entries:
        left = sale_remainder(sale)
        moving = [(p, amount) for p, amount in left.payees.items() if amount]
        ids = [p for p, _ in moving]
        sources = _payee_accounts_existing(kind=source, currency=left.currency, payee_ids=ids)
        targets = _payee_accounts_existing(kind=target, currency=left.currency, payee_ids=ids)
        # Payee accounts are credit-normal: a debit (+) takes out of source, a credit (-) adds.
        lines.add_many(
            kind=source,
            currency=left.currency,
            account_ids=[sources[p] for p in ids],
            payee_ids=ids,
            amounts=[amount for _, amount in moving],
        )
        lines.add_many(
            kind=target,
            currency=left.currency,
            account_ids=[targets[p] for p in ids],
            payee_ids=ids,
            amounts=[-amount for _, amount in moving],
        )
    journal, _ = journal_post(
        check_accounts=False,
        idempotency_key=key,
        kind=kind,
        lines=lines,
        dataset_version_id=sale.dataset_version_id,
        share_table_id=sale.share_table_id,
        related_transaction_id=sale.pk,
        external_reference=dispute_id,
    )
    return journal


def dispute_hold_post(*, dispute_id: str, order_ref: str) -> JournalTransaction:
    """A dispute opened on the sale's charge (`dispute-hold:<dispute_id>`): while it is open the
    sale's payee shares are not payable. If the sale's hold was released already, what is left
    of each share moves back from AVAILABLE to PENDING (AVAILABLE may go negative if it was
    paid out, netted by later payouts); otherwise the transaction has no entries and
    holds_release skips the sale until the dispute is closed. Posted once per dispute; a
    dispute already closed (release or loss posted) gets no hold."""
    dispute_id = _require_ref("dispute_id", dispute_id)
    key = f"dispute-hold:{dispute_id}"
    sale = _sale_of(order_ref=order_ref, sale=None)
    existing = journal_transaction_existing(key)
    if existing is not None:
        return existing
    with transaction.atomic():
        ledger_chain_lock()
        existing = journal_transaction_existing(key)
        if existing is not None:
            return existing
        closed = journal_transaction_existing(
            f"dispute-release:{dispute_id}"
        ) or journal_transaction_existing(f"dispute-loss:{dispute_id}")
        if closed is not None:
            return closed
        return _move(
            sale=sale,
            source=Kind.PAYEE_AVAILABLE,
            target=Kind.PAYEE_PENDING,
            key=key,
            kind=TxKind.DISPUTE_HOLD,
            dispute_id=dispute_id,
            entries=sale_remainder(sale).released,
        )


def dispute_release_post(*, dispute_id: str, order_ref: str) -> JournalTransaction:
    """A dispute won (`dispute-release:<dispute_id>`): what its hold moved back to PENDING
    returns to AVAILABLE; a hold without entries (the sale was still inside its refund window)
    releases nothing, and holds_release treats the sale normally again. Once per dispute;
    refused (Invalid) after the dispute's loss was posted."""
    dispute_id = _require_ref("dispute_id", dispute_id)
    key = f"dispute-release:{dispute_id}"
    sale = _sale_of(order_ref=order_ref, sale=None)
    existing = journal_transaction_existing(key)
    if existing is not None:
        return existing
    with transaction.atomic():
        ledger_chain_lock()
        existing = journal_transaction_existing(key)
        if existing is not None:
            return existing
        if journal_transaction_existing(f"dispute-loss:{dispute_id}") is not None:
            raise Invalid(f"Dispute {dispute_id} was lost; it cannot be released.")
        hold = journal_transaction_existing(f"dispute-hold:{dispute_id}")
        return _move(
            sale=sale,
            source=Kind.PAYEE_PENDING,
            target=Kind.PAYEE_AVAILABLE,
            key=key,
            kind=TxKind.DISPUTE_RELEASE,
            dispute_id=dispute_id,
            entries=hold is not None and Entry.objects.filter(transaction=hold).exists(),
        )


def dispute_loss_post(*, dispute_id: str, amount_cents: int, order_ref: str) -> JournalTransaction:
    """A dispute lost (`dispute-loss:<dispute_id>`): the disputed amount (at most what is left
    of the sale after its refunds) is taken back like a refund: out of payment clearing, from
    the platform fee and the payees' shares in proportion, from PENDING while the shares are
    held, else from AVAILABLE (negative if already paid out; later payouts net it). Once per
    dispute, whatever the order of the events."""
    dispute_id = _require_ref("dispute_id", dispute_id)
    amount_cents = _require_int("amount_cents", amount_cents, minimum=0)
    key = f"dispute-loss:{dispute_id}"
    sale = _sale_of(order_ref=order_ref, sale=None)
    existing = journal_transaction_existing(key)
    if existing is not None:
        return existing
    with transaction.atomic():
        ledger_chain_lock()
        existing = journal_transaction_existing(key)
        if existing is not None:
            return existing
        left = sale_remainder(sale)
        amount = min(amount_cents * MICRO_PER_CENT, left.gross)
        return reversal_post(
            key=key,
            kind=TxKind.DISPUTE_LOSS,
            sale=sale,
            left=left,
            amount_micro=amount,
            external_reference=dispute_id,
        )


__all__ = [
    "dispute_hold_post",
    "dispute_loss_post",
    "dispute_release_post",
    "sale_dispute_open",
    "sales_under_open_dispute",
]
