"""Refunds: what the processor gave back to the buyer, taken back proportionally from the
platform's fee and the payees' shares of the sale."""

from __future__ import annotations

from django.db import transaction

from marketplace.services.errors import Invalid
from payouts.models import MICRO_PER_CENT, JournalTransaction, LedgerAccount
from payouts.services.journal import (
    EntryLines,
    journal_post,
    journal_transaction_existing,
    ledger_chain_lock,
    platform_account,
)
from payouts.services.sales.checks import (
    _platform_amounts,
    _replay_mismatch,
    _require_int,
    _require_ref,
)
from payouts.services.sales.remainder import (
    SaleRemainder,
    _payee_accounts_existing,
    _sale_of,
    sale_remainder,
)
from payouts.services.sales.sale import rotation_key_for
from payouts.services.split import split_allocate

Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind


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
        return reversal_post(
            key=key,
            kind=TxKind.REFUND,
            sale=sale,
            left=left,
            amount_micro=refund_micro,
            external_reference=refund_id,
        )


def reversal_post(
    *,
    key: str,
    kind: str,
    sale: JournalTransaction,
    left: SaleRemainder,
    amount_micro: int,
    external_reference: str,
) -> JournalTransaction:
    """Take `amount_micro` (at most `left.gross`) back out of a sale, proportionally (see
    refund_post); the caller holds the chain lock and checked the key. A zero amount posts the
    transaction without entries (the record that the sale was reversed)."""
    rotation = rotation_key_for(key)
    base_remaining = left.gross - left.platform_fee
    fee_part, base_part = (
        split_allocate(amount_micro, [left.platform_fee, base_remaining], rotation_key=rotation)
        if amount_micro
        else (0, 0)
    )
    payee_ids = list(left.payees)
    # A sale whose base price was 0 (all fee) credited no payee: nothing to take back.
    payee_parts = (
        split_allocate(base_part, [left.payees[p] for p in payee_ids], rotation_key=rotation)
        if payee_ids and base_part
        else [0] * len(payee_ids)
    )
    if base_part and not payee_ids:
        raise RuntimeError(f"sale {sale.pk}: a base part to refund but no payee entries")
    payee_kind = Kind.PAYEE_AVAILABLE if left.released else Kind.PAYEE_PENDING
    touched = [(p, part) for p, part in zip(payee_ids, payee_parts, strict=True) if part]
    accounts = _payee_accounts_existing(
        kind=payee_kind, currency=left.currency, payee_ids=[p for p, _ in touched]
    )

    lines = EntryLines()
    if amount_micro:
        lines.add(
            platform_account(kind=Kind.PAYMENT_CLEARING, currency=left.currency), -amount_micro
        )
    if fee_part:
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
        kind=kind,
        lines=lines,
        dataset_version_id=sale.dataset_version_id,
        share_table_id=sale.share_table_id,
        related_transaction_id=sale.pk,
        external_reference=external_reference,
    )
    return journal
