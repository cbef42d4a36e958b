"""Executing a payout run: claim each line, call Stripe with no transaction open, record the
outcome; safe to run concurrently and again after any crash."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import stripe
from django.db import transaction
from django.utils import timezone

from marketplace.payments import stripe_client
from marketplace.services.audit import audit_record
from payouts.models import PayoutLine, PayoutRun
from payouts.services.runs.lines import (
    _line_claim,
    _line_release,
    _lines_confirm,
    payout_line_fail,
    payout_line_transfer_record,
)
from payouts.services.runs.transfers import _transfer_check, _transfer_send, _Unavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PayoutRunExecution:
    sent: int  # lines whose transfer this execution recorded
    failed: int  # lines whose transfer Stripe refused (reversed in the ledger)
    paid: int  # sent lines confirmed paid
    retry: int  # lines left pending because Stripe was unavailable
    stripe_unavailable: bool


def _run_complete_if_done(run: PayoutRun) -> None:
    with transaction.atomic(durable=True):
        locked = PayoutRun.objects.select_for_update().get(pk=run.pk)
        if locked.status == PayoutRun.Status.COMPLETED:
            return
        if not PayoutLine.objects.filter(run=locked, status__in=PayoutLine.UNFINISHED).exists():
            locked.status = PayoutRun.Status.COMPLETED
            locked.completed_at = timezone.now()
            locked.save(update_fields=["status", "completed_at"])
            run.status, run.completed_at = locked.status, locked.completed_at


def payout_run_execute(
    *, run: PayoutRun, actor=None, now: datetime | None = None
) -> PayoutRunExecution:
    """Pay the run's lines: for each pending line (or a `sending` line abandoned longer than the
    lease), one Stripe Transfer with idempotency key = the line id (stored at creation),
    transfer_group = the run's group, destination = the payee's account, amount = the line's
    cents. Each line is claimed (`sending`) in its own short transaction, Stripe is called with
    no transaction open, and the result is recorded in another; so this can run concurrently
    with itself (lines are claimed with SKIP LOCKED) and again after any crash without paying
    twice (Stripe replays the key; a retried line first looks for its transfer).

    Outcomes: transfer made -> `sent` (then `paid` once listed by Stripe unreversed); refused
    by Stripe -> `failed` and reversed in the ledger (the money is available again); Stripe
    unavailable -> the line goes back to `pending` and this execution stops (the next one
    retries).

    Never call it inside a transaction: each claim, record and the run's completion commits on
    its own (durable atomic blocks, so a caller's transaction raises RuntimeError before any
    Stripe call instead of holding line locks across it)."""
    client = stripe_client(max_network_retries=1, timeout=20.0)
    sent = failed = retry = 0
    unavailable = False
    run.last_executed_at = timezone.now()
    run.save(update_fields=["last_executed_at"])
    while True:
        line = _line_claim(run, now=now or timezone.now())
        if line is None:
            break
        try:
            transfer = _transfer_send(line, run, client)
        except _Unavailable as exc:
            logger.warning("Stripe unavailable for payout line %s: %s", line.pk, exc)
            _line_release(line, str(exc))
            retry += 1
            unavailable = True
            break
        except stripe.StripeError as exc:
            logger.warning("Stripe refused payout line %s: %s", line.pk, exc)
            payout_line_fail(line_id=line.pk, code=exc.code or type(exc).__name__, message=str(exc))
            failed += 1
            continue
        _transfer_check(line, run, transfer)
        payout_line_transfer_record(line_id=line.pk, transfer_id=transfer.id)
        sent += 1
    paid = 0
    if not unavailable:
        try:
            paid = _lines_confirm(run, client)
        except stripe.StripeError as exc:
            logger.warning("Could not confirm payout run %s: %s", run.pk, exc)
            unavailable = True
    _run_complete_if_done(run)
    if sent or failed or paid:
        audit_record(
            actor=actor,
            organization=None,
            action="payout_run.execute",
            obj=run,
            data={"sent": sent, "failed": failed, "paid": paid, "retry": retry},
        )
    return PayoutRunExecution(sent, failed, paid, retry, unavailable)


def payout_runs_open():
    return PayoutRun.objects.filter(status=PayoutRun.Status.OPEN).order_by("pk")
