"""Holds: a sale's payee shares stay PENDING for the refund window, then become AVAILABLE."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from marketplace.services.errors import Invalid
from payouts.models import JournalTransaction, LedgerAccount
from payouts.services.journal import (
    EntryLines,
    journal_post,
    journal_transaction_existing,
    ledger_chain_lock,
    payee_accounts_ensure,
)
from payouts.services.sales.disputes import sale_dispute_open, sales_under_open_dispute
from payouts.services.sales.remainder import _payee_accounts_existing, sale_remainder

logger = logging.getLogger(__name__)
Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind


def refund_window() -> timedelta:
    """Setting REFUND_WINDOW_DAYS: how long a sale's shares stay pending."""
    return timedelta(days=settings.REFUND_WINDOW_DAYS)


def hold_release_key(sale: JournalTransaction) -> str:
    return f"hold-release:{sale.idempotency_key}"


def sale_hold_release(
    *, sale: JournalTransaction, now: datetime | None = None
) -> JournalTransaction:
    """Release the hold of one sale (idempotency key `hold-release:sale:<order ref>`): what is
    left of each payee's share after refunds moves from PENDING (debit) to AVAILABLE (credit).

    Rules: only a sale, only once its refund window has passed (`now - created_at >=
    REFUND_WINDOW_DAYS`, else Invalid); once per sale (a second call returns the first
    transaction). A sale refunded in full releases nothing: its hold release is posted without
    entries, as the record that the sale is done with. Refunds after the release come out of
    AVAILABLE (see refund_post). Never nested in another transaction (durable): each release
    commits on its own, so the chain lock is not held for a caller's work."""
    return _hold_release(sale=sale, now=now)[0]


def _hold_release(
    *, sale: JournalTransaction, now: datetime | None
) -> tuple[JournalTransaction, bool]:
    now = now or timezone.now()
    if sale.kind != TxKind.SALE:
        raise Invalid(f"{sale.idempotency_key} is not a sale.")
    if now - sale.created_at < refund_window():
        raise Invalid(f"Sale {sale.idempotency_key} is still inside its refund window.")
    key = hold_release_key(sale)
    existing = journal_transaction_existing(key)
    if existing is not None:
        return existing, False

    with transaction.atomic(durable=True):
        # Available accounts first (before the chain lock, see journal's lock order): every payee
        # the sale credited may still have something to release.
        left = sale_remainder(sale)
        payee_ids = sorted(p for p, amount in left.payees.items() if amount)
        available = payee_accounts_ensure(
            kind=Kind.PAYEE_AVAILABLE, currency=left.currency, payee_ids=payee_ids
        )
        ledger_chain_lock()
        existing = journal_transaction_existing(key)
        if existing is not None:
            return existing, False
        if sale_dispute_open(sale):
            raise Invalid(
                f"Sale {sale.idempotency_key} is disputed: its shares stay held until the "
                "dispute is closed.",
                code="sale_disputed",
            )
        # Again under the lock: a refund may have been posted meanwhile.
        left = sale_remainder(sale)
        moving = [(p, amount) for p, amount in left.payees.items() if amount]
        pending = _payee_accounts_existing(
            kind=Kind.PAYEE_PENDING, currency=left.currency, payee_ids=[p for p, _ in moving]
        )
        lines = EntryLines()
        lines.add_many(
            kind=Kind.PAYEE_PENDING,
            currency=left.currency,
            account_ids=[pending[p] for p, _ in moving],
            payee_ids=[p for p, _ in moving],
            amounts=[amount for _, amount in moving],
        )
        lines.add_many(
            kind=Kind.PAYEE_AVAILABLE,
            currency=left.currency,
            account_ids=[available[p] for p, _ in moving],
            payee_ids=[p for p, _ in moving],
            amounts=[-amount for _, amount in moving],
        )
        return journal_post(
            check_accounts=False,  # read from the account rows just above
            idempotency_key=key,
            kind=TxKind.HOLD_RELEASE,
            lines=lines,
            dataset_version_id=sale.dataset_version_id,
            share_table_id=sale.share_table_id,
            related_transaction_id=sale.pk,
        )


@dataclass(frozen=True)
class HoldsReleaseResult:
    released: int  # hold releases this run posted
    failed: int  # sales whose release raised (logged; retried by the next run)


def sales_due_for_release(*, now: datetime):
    """Sales past their refund window without a hold release and without an open dispute,
    oldest first."""
    released = JournalTransaction.objects.filter(
        kind=TxKind.HOLD_RELEASE, related_transaction=OuterRef("pk")
    )
    return (
        JournalTransaction.objects.filter(kind=TxKind.SALE, created_at__lte=now - refund_window())
        .exclude(Exists(released))
        .exclude(pk__in=sales_under_open_dispute().values("pk"))
        .order_by("sequence")
    )


def holds_release(*, now: datetime | None = None, batch_size: int = 200) -> HoldsReleaseResult:
    """Release every sale whose refund window has passed (`sale_hold_release` each, in its own
    transaction, oldest first). Idempotent and safe to run concurrently: a sale released by
    another run meanwhile is not released again (nor counted). A sale that fails is logged and
    left for the next run; the others proceed."""
    now = now or timezone.now()
    released = failed = 0
    after = 0
    while True:
        batch = list(sales_due_for_release(now=now).filter(sequence__gt=after)[:batch_size])
        if not batch:
            break
        for sale in batch:
            after = sale.sequence
            try:
                _, created = _hold_release(sale=sale, now=now)  # its own (durable) transaction
                released += created
            except Exception:
                failed += 1
                logger.exception("Hold release of %s failed", sale.idempotency_key)
    return HoldsReleaseResult(released=released, failed=failed)
