"""Payout runs: reserve what each payee is owed (set-based), then pay it with one Stripe Transfer
per line, safely re-executable after any crash.

Ledger flow of a line (micro-units; see payouts.models):
  run created   `payout-run:<run>`       payee AVAILABLE (debit) -> PAYOUT_IN_TRANSIT (credit)
  transfer made `payout-line:<line>`     PAYOUT_IN_TRANSIT (debit) -> PAYMENT_CLEARING (credit),
                                         external_reference = the Stripe transfer id
  refused       `payout-reversal:<line>` PAYOUT_IN_TRANSIT (debit) -> payee AVAILABLE (credit)

The reservation of a run is ONE journal transaction with one entry per line (not one per line):
the ledger's per-transaction triggers keep an open-transactions list per database transaction,
which would make 100,000 postings in one commit quadratic; a single posting is written with one
COPY. Each line's own postings (`payout-line:<id>`, `payout-reversal:<id>`) are per line.

Lock order (extends payouts.services.journal's): a payout line row (select_for_update, one at a
time, in pk order), then ledger accounts, then the chain lock. No Stripe call is made while any
row lock or the chain lock is held.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import stripe
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from marketplace.payments import stripe_client
from marketplace.services.audit import audit_record
from marketplace.services.errors import Invalid
from payouts.models import (
    CURRENCY_RE,
    MICRO_PER_CENT,
    JournalTransaction,
    LedgerAccount,
    PayoutLine,
    PayoutRun,
)
from payouts.services.journal import (
    EntryLines,
    journal_post,
    ledger_chain_lock,
    payee_account,
    platform_account,
)

logger = logging.getLogger(__name__)
Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind
Status = PayoutLine.Status
DEFAULT_THRESHOLD_CENTS = {"usd": 1000}
DEFAULT_SENDING_LEASE_SECONDS = 300


def payout_thresholds() -> dict[str, int]:
    """Setting PAYOUT_THRESHOLD_CENTS: {currency: minimum available balance in cents}. The
    currencies listed are the ones the periodic task pays out."""
    return dict(getattr(settings, "PAYOUT_THRESHOLD_CENTS", DEFAULT_THRESHOLD_CENTS))


def sending_lease() -> timedelta:
    """Setting PAYOUT_SENDING_LEASE_SECONDS: a line left `sending` this long is taken to be
    abandoned by a crashed execution and is taken over (the same idempotency key is reused, and
    the transfer is looked up first, so this never pays twice)."""
    seconds = getattr(settings, "PAYOUT_SENDING_LEASE_SECONDS", DEFAULT_SENDING_LEASE_SECONDS)
    return timedelta(seconds=seconds)


def run_reserve_key(run: PayoutRun) -> str:
    return f"payout-run:{run.pk}"


def line_payout_key(line: PayoutLine) -> str:
    return f"payout-line:{line.pk}"


def line_reversal_key(line: PayoutLine) -> str:
    return f"payout-reversal:{line.pk}"


# --- creating a run -------------------------------------------------------------------------------

_CANDIDATES = """
WITH balances AS (
    SELECT a.payee_id, a.id AS account_id, -sum(e.amount) AS available
    FROM payouts_ledgeraccount a
    JOIN payouts_entry e ON e.account_id = a.id
    WHERE a.kind = %(kind)s AND a.currency = %(currency)s AND a.payee_id IS NOT NULL
    GROUP BY a.payee_id, a.id
),
picked AS MATERIALIZED (
    SELECT nextval(pg_get_serial_sequence('payouts_payoutline', 'id')) AS id, s.*
    FROM (
        -- sum() is numeric: div() truncates (a plain cast would round a half cent up).
        SELECT b.payee_id, b.account_id, div(b.available, %(micro)s)::bigint AS amount_cents,
               pa.stripe_account_id AS destination
        FROM balances b
        JOIN contributors_payoutaccount pa
          ON pa.payee_id = b.payee_id AND pa.payouts_enabled
        WHERE b.available >= %(threshold)s
          AND NOT EXISTS (
              SELECT 1 FROM payouts_payoutline l
              WHERE l.payee_id = b.payee_id AND l.currency = %(currency)s
                AND l.status IN ('pending', 'sending', 'sent')
          )
        ORDER BY b.payee_id
    ) s
),
inserted AS (
    INSERT INTO payouts_payoutline (
        id, run_id, payee_id, currency, amount_cents, status, destination, idempotency_key,
        transfer_id, attempts, failure_code, failure_message, created_at
    )
    SELECT k.id, %(run)s, k.payee_id, %(currency)s, k.amount_cents, 'pending', k.destination,
           k.id::text, '', 0, '', '', %(now)s
    FROM picked k
    ORDER BY k.id
)
SELECT payee_id, account_id, amount_cents FROM picked ORDER BY payee_id
"""


def payout_run_create(*, currency: str, now: datetime | None = None, actor=None) -> PayoutRun:
    """Create a payout run in `currency` and reserve its money, in one transaction.

    Rules: one line per payee that has a payout account with payouts enabled, an AVAILABLE
    balance of at least the currency's threshold (PAYOUT_THRESHOLD_CENTS; a currency not listed
    there is Invalid) and no unfinished (pending / sending / sent) line in this currency. A line
    settles whole cents: the floor of the available micro-units to a cent; the sub-cent
    remainder stays available and is carried into later runs. The reservation (`payout-run:
    <run id>`) moves each line's amount from the payee's AVAILABLE to PAYOUT_IN_TRANSIT in the
    same transaction that creates the lines, under the chain lock, so no refund or other run
    can change a balance between reading it and reserving it. Set-based: one INSERT ... SELECT
    for the lines and one posting (COPY) for the entries, whatever the number of payees."""
    if not isinstance(currency, str) or not re.match(CURRENCY_RE, currency):
        raise Invalid(f'currency must be a lowercase ISO code like "usd" (got {currency!r}).')
    thresholds = payout_thresholds()
    if currency not in thresholds:
        raise Invalid(f"No payout threshold is configured for {currency}.")
    threshold_cents = int(thresholds[currency])
    if threshold_cents < 1:
        raise Invalid("The payout threshold must be at least one cent.")
    now = now or timezone.now()

    with transaction.atomic():
        in_transit = platform_account(kind=Kind.PAYOUT_IN_TRANSIT, currency=currency)
        # Balances are read under the chain lock: nothing can post in between.
        ledger_chain_lock()
        run = PayoutRun.objects.create(
            currency=currency, threshold_cents=threshold_cents, created_by=actor, created_at=now
        )
        with connection.cursor() as cursor:
            cursor.execute(
                _CANDIDATES,
                {
                    "kind": Kind.PAYEE_AVAILABLE,
                    "currency": currency,
                    "run": run.pk,
                    "now": now,
                    "micro": MICRO_PER_CENT,
                    "threshold": threshold_cents * MICRO_PER_CENT,
                },
            )
            rows = cursor.fetchall()
        payee_ids = [r[0] for r in rows]
        amounts = [r[2] * MICRO_PER_CENT for r in rows]
        total_cents = sum(r[2] for r in rows)
        if rows:
            lines = EntryLines()
            lines.add_many(
                kind=Kind.PAYEE_AVAILABLE,
                currency=currency,
                account_ids=[r[1] for r in rows],
                payee_ids=payee_ids,
                amounts=amounts,
            )
            lines.add(in_transit, -total_cents * MICRO_PER_CENT)
            reserve, _ = journal_post(
                check_accounts=False,  # read from the account rows just above
                idempotency_key=run_reserve_key(run),
                kind=TxKind.PAYOUT_RESERVE,
                lines=lines,
            )
            run.reserve_transaction = reserve
        run.line_count = len(rows)
        run.total_cents = total_cents
        if not rows:
            run.status = PayoutRun.Status.COMPLETED
            run.completed_at = now
        run.save(
            update_fields=[
                "reserve_transaction",
                "line_count",
                "total_cents",
                "status",
                "completed_at",
            ]
        )
        audit_record(
            actor=actor,
            organization=None,
            action="payout_run.create",
            obj=run,
            data={"currency": currency, "lines": len(rows), "totalCents": total_cents},
        )
    return run


# --- executing a run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayoutRunExecution:
    sent: int  # lines whose transfer this execution recorded
    failed: int  # lines whose transfer Stripe refused (reversed in the ledger)
    paid: int  # sent lines confirmed paid
    retry: int  # lines left pending because Stripe was unavailable
    stripe_unavailable: bool


class _Unavailable(Exception):
    """Stripe could not be reached or asked us to retry: the line goes back to pending."""


def _line_claim(run: PayoutRun, *, now: datetime) -> PayoutLine | None:
    """Take the next line of the run to send, in its own short transaction: the first pending
    line, or a line left `sending` longer than the lease (a crashed execution), in pk order,
    skipping lines another execution holds locked. Marks it `sending` and commits, so no lock
    is held during the Stripe call."""
    with transaction.atomic():
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


def _transfer_params(line: PayoutLine, run: PayoutRun) -> dict:
    return {
        "amount": line.amount_cents,
        "currency": line.currency,
        "destination": line.destination,
        "transfer_group": run.transfer_group,
        "metadata": {"payout_line": str(line.pk), "payout_run": str(run.pk)},
    }


def _transfer_find(line: PayoutLine, run: PayoutRun, client) -> stripe.Transfer | None:
    """The transfer a previous attempt made for this line, if any (by transfer_group and our
    metadata): covers a crash after Stripe made it, even once Stripe has forgotten the key."""
    listing = client.transfers.list(params={"transfer_group": run.transfer_group, "limit": 100})
    for transfer in listing.auto_paging_iter():
        if (transfer.get("metadata") or {}).get("payout_line") == str(line.pk):
            return transfer
    return None


def _transfer_send(line: PayoutLine, run: PayoutRun, client) -> stripe.Transfer:
    """Make (or find) the line's transfer. No database transaction is open here. Raises
    _Unavailable when Stripe cannot answer now, stripe.StripeError when it refused."""
    try:
        if line.attempts > 1:
            found = _transfer_find(line, run, client)
            if found is not None:
                return found
        return client.transfers.create(
            params=_transfer_params(line, run),
            options={"idempotency_key": line.idempotency_key},
        )
    except (
        stripe.APIConnectionError,
        stripe.RateLimitError,
        stripe.APIError,
        stripe.IdempotencyError,  # a concurrent request with the key is still running
        stripe.AuthenticationError,
    ) as exc:
        raise _Unavailable(str(exc)) from exc


def _transfer_check(line: PayoutLine, run: PayoutRun, transfer) -> None:
    expected = (line.amount_cents, line.currency, line.destination, run.transfer_group)
    actual = (transfer.amount, transfer.currency, transfer.destination, transfer.transfer_group)
    if actual != expected:
        # Never record a transfer that is not this line's; reconciliation will show it.
        raise RuntimeError(f"transfer {transfer.id} is {actual}, line {line.pk} is {expected}")


def payout_line_transfer_record(*, line_id: int, transfer_id: str) -> PayoutLine:
    """Record the line's transfer (idempotent): the line becomes `sent` and the payout posting
    `payout-line:<id>` moves its amount from PAYOUT_IN_TRANSIT to PAYMENT_CLEARING (the money
    left our Stripe balance). A line already recorded with this transfer is returned as is."""
    with transaction.atomic():
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
    balance (a later run pays it again). Idempotent."""
    with transaction.atomic():
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
    return PayoutLine.objects.filter(pk__in=confirmed, status=Status.SENT).update(
        status=Status.PAID, finished_at=timezone.now()
    )


def _run_complete_if_done(run: PayoutRun) -> None:
    with transaction.atomic():
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
    retries)."""
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
