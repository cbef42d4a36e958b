"""A payout line's state changes (claimed, sent, failed, back to pending, paid), each in its
own short transaction, with the ledger postings of a sent or failed line."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from marketplace.events.services import event_emit
from payouts.models import MICRO_PER_CENT, JournalTransaction, LedgerAccount, PayoutLine, PayoutRun
from payouts.services.journal import EntryLines, journal_post, payee_account, platform_account

Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind
Status = PayoutLine.Status


def sending_lease() -> timedelta:
    """Setting PAYOUT_SENDING_LEASE_SECONDS: a line left `sending` this long is taken to be
    abandoned by a crashed execution and is taken over (the same idempotency key is reused, and
    the transfer is looked up first, so this never pays twice)."""
    return timedelta(seconds=settings.PAYOUT_SENDING_LEASE_SECONDS)


def line_payout_key(line: PayoutLine) -> str:
    return f"payout-line:{line.pk}"


def line_reversal_key(line: PayoutLine) -> str:
    return f"payout-reversal:{line.pk}"


def _line_claim(run: PayoutRun, *, now: datetime) -> PayoutLine | None:
    """Take the next line of the run to send, in its own short transaction: the first pending
    line, or a line left `sending` longer than the lease (a crashed execution), in pk order,
    skipping lines another execution holds locked. Marks it `sending` and commits, so no lock
    is held during the Stripe call: never nested in another transaction (durable)."""
    with transaction.atomic(durable=True):
        line = (
            PayoutLine.objects.select_for_update(skip_locked=True)
            .filter(run=run)
            .filter(
                Q(status=Status.PENDING)
                | Q(status=Status.SENDING, sending_at__lt=now - sending_lease())
            )
            .order_by("pk")
            .first()
        )
        if line is None:
            return None
        line.status = Status.SENDING
        line.sending_at = now
        line.attempts += 1
        line.save(update_fields=["status", "sending_at", "attempts"])
        return line


def payout_line_transfer_record(*, line_id: int, transfer_id: str) -> PayoutLine:
    """Record the line's transfer (idempotent): the line becomes `sent` and the payout posting
    `payout-line:<id>` moves its amount from PAYOUT_IN_TRANSIT to PAYMENT_CLEARING (the money
    left our Stripe balance). A line already recorded with this transfer is returned as is.
    Never nested (durable): once Stripe made the transfer, its record commits on its own."""
    with transaction.atomic(durable=True):
        line = PayoutLine.objects.select_for_update().get(pk=line_id)
        if line.transfer_id:
            if line.transfer_id != transfer_id:
                raise RuntimeError(
                    f"line {line.pk} has transfer {line.transfer_id}, not {transfer_id}"
                )
            return line
        if line.status not in (Status.PENDING, Status.SENDING):
            raise RuntimeError(f"line {line.pk} is {line.status}; cannot record a transfer")
        in_transit = platform_account(kind=Kind.PAYOUT_IN_TRANSIT, currency=line.currency)
        clearing = platform_account(kind=Kind.PAYMENT_CLEARING, currency=line.currency)
        lines = EntryLines()
        lines.add(in_transit, line.amount_cents * MICRO_PER_CENT)
        lines.add(clearing, -line.amount_cents * MICRO_PER_CENT)
        journal, _ = journal_post(
            idempotency_key=line_payout_key(line),
            kind=TxKind.PAYOUT,
            lines=lines,
            external_reference=transfer_id,
        )
        line.status = Status.SENT
        line.transfer_id = transfer_id
        line.payout_transaction = journal
        line.sent_at = timezone.now()
        line.failure_code = line.failure_message = ""
        line.save(
            update_fields=[
                "status",
                "transfer_id",
                "payout_transaction",
                "sent_at",
                "failure_code",
                "failure_message",
            ]
        )
        return line


def payout_line_fail(*, line_id: int, code: str, message: str) -> PayoutLine:
    """Stripe refused the line's transfer: the line becomes `failed` and the reversal posting
    `payout-reversal:<id>` returns its amount from PAYOUT_IN_TRANSIT to the payee's AVAILABLE
    balance (a later run pays it again). Idempotent; never nested (durable), like the record of
    a transfer."""
    with transaction.atomic(durable=True):
        line = PayoutLine.objects.select_for_update().get(pk=line_id)
        if line.status == Status.FAILED:
            return line
        if line.status not in (Status.PENDING, Status.SENDING) or line.transfer_id:
            raise RuntimeError(f"line {line.pk} is {line.status}; cannot fail it")
        available = payee_account(
            payee_id=line.payee_id, kind=Kind.PAYEE_AVAILABLE, currency=line.currency
        )
        in_transit = platform_account(kind=Kind.PAYOUT_IN_TRANSIT, currency=line.currency)
        lines = EntryLines()
        lines.add(in_transit, line.amount_cents * MICRO_PER_CENT)
        lines.add(available, -line.amount_cents * MICRO_PER_CENT)
        journal, _ = journal_post(
            idempotency_key=line_reversal_key(line), kind=TxKind.PAYOUT_REVERSAL, lines=lines
        )
        line.status = Status.FAILED
        line.reversal_transaction = journal
        line.failure_code = code[:64]
        line.failure_message = message
        line.finished_at = timezone.now()
        line.save(
            update_fields=[
                "status",
                "reversal_transaction",
                "failure_code",
                "failure_message",
                "finished_at",
            ]
        )
        return line


def _line_release(line: PayoutLine, message: str) -> None:
    """Back to pending (Stripe unavailable), unless another execution moved the line on."""
    PayoutLine.objects.filter(pk=line.pk, status=Status.SENDING, attempts=line.attempts).update(
        status=Status.PENDING, failure_message=message[:1000]
    )


def _lines_confirm(run: PayoutRun, client) -> int:
    """Sent lines whose transfer Stripe lists in the run's transfer group, unreversed and as
    recorded, become `paid` (one listing per run, not one call per line)."""
    sent = dict(
        PayoutLine.objects.filter(run=run, status=Status.SENT).values_list("transfer_id", "pk")
    )
    if not sent:
        return 0
    confirmed = []
    listing = client.transfers.list(params={"transfer_group": run.transfer_group, "limit": 100})
    for transfer in listing.auto_paging_iter():
        if transfer.id in sent and not transfer.get("reversed"):
            confirmed.append(sent[transfer.id])
    with transaction.atomic():
        paid = list(
            PayoutLine.objects.select_for_update(of=("self",))
            .filter(pk__in=confirmed, status=Status.SENT)
            .select_related("payee__organization")
        )
        PayoutLine.objects.filter(pk__in=[line.pk for line in paid]).update(
            status=Status.PAID, finished_at=timezone.now()
        )
        for line in paid:
            _payout_paid_emit(run, line)
    return len(paid)


def _payout_paid_emit(run: PayoutRun, line: PayoutLine) -> None:
    """`payout.paid` to an organisation payee (in the transaction that marks the line paid; a
    contributor paid as a person has no organisation to deliver to)."""
    organization = line.payee.organization
    if organization is None:
        return
    event_emit(
        organization=organization,
        type="payout.paid",
        key=str(line.pk),
        data={
            "payoutLineId": line.pk,
            "payoutRunId": run.pk,
            "amountCents": line.amount_cents,
            "currency": line.currency,
            "transferId": line.transfer_id,
        },
    )
