"""Creating a payout run: one line per payee owed at least the threshold, and the reservation
of their money, set-based, in one transaction."""

from __future__ import annotations

import bisect
import re
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from marketplace.services.audit import audit_record
from marketplace.services.errors import Invalid
from payouts.models import CURRENCY_RE, MICRO_PER_CENT, JournalTransaction, LedgerAccount, PayoutRun
from payouts.services.journal import EntryLines, journal_post, ledger_chain_lock, platform_account

Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind


def payout_thresholds() -> dict[str, int]:
    """Setting PAYOUT_THRESHOLD_CENTS: {currency: minimum available balance in cents}. The
    currencies listed are the ones the periodic task pays out."""
    return dict(settings.PAYOUT_THRESHOLD_CENTS)


def run_reserve_key(run: PayoutRun) -> str:
    return f"payout-run:{run.pk}"


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
-- Column-wise (three arrays, one row): no Python tuple per line at a million payees.
SELECT coalesce(array_agg(payee_id ORDER BY payee_id), '{}'),
       coalesce(array_agg(account_id ORDER BY payee_id), '{}'),
       coalesce(array_agg(amount_cents ORDER BY payee_id), '{}')
FROM picked
"""


def _reserve_lines(in_transit, currency: str, payee_ids, account_ids, cents) -> EntryLines:
    """The reservation's entries, column-wise, built without extra copies (a million payees
    are a few lists of ints), in ascending account id (the journal's canonical order: payee
    accounts come in payee order, which is account order when accounts were created in payee
    order; the in-transit account goes in at its place so no re-sort is needed)."""
    amounts = [c * MICRO_PER_CENT for c in cents]
    count = len(amounts)
    lines = EntryLines(
        account_ids=account_ids,
        kinds=[Kind.PAYEE_AVAILABLE] * count,
        payee_ids=payee_ids,
        currencies=[currency] * count,
        amounts=amounts,
    )
    at = bisect.bisect_left(account_ids, in_transit.id)
    if at < count and account_ids[at] == in_transit.id:  # not a payee account: cannot happen
        raise RuntimeError(f"account {in_transit.id} is both a payee's and in transit")
    for column, value in (
        (lines.account_ids, in_transit.id),
        (lines.kinds, in_transit.kind),
        (lines.payee_ids, in_transit.payee_id),
        (lines.currencies, in_transit.currency),
        (lines.amounts, -sum(amounts)),
    ):
        column.insert(at, value)
    return lines


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
    for the lines and one posting (COPY) for the entries, whatever the number of payees.

    Never nested in another transaction (durable): it holds the chain lock, which every other
    posting waits on, until it commits, and its run must be committed before it is executed."""
    if not isinstance(currency, str) or not re.match(CURRENCY_RE, currency):
        raise Invalid(f'currency must be a lowercase ISO code like "usd" (got {currency!r}).')
    thresholds = payout_thresholds()
    if currency not in thresholds:
        raise Invalid(f"No payout threshold is configured for {currency}.")
    threshold_cents = int(thresholds[currency])
    if threshold_cents < 1:
        raise Invalid("The payout threshold must be at least one cent.")
    now = now or timezone.now()

    with transaction.atomic(durable=True):
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
            payee_ids, account_ids, cents = cursor.fetchone()
        count = len(cents)
        total_cents = sum(cents)
        if count:
            lines = _reserve_lines(in_transit, currency, payee_ids, account_ids, cents)
            del payee_ids, account_ids, cents  # the lines own the columns now
            reserve, _ = journal_post(
                check_accounts=False,  # read from the account rows just above
                idempotency_key=run_reserve_key(run),
                kind=TxKind.PAYOUT_RESERVE,
                lines=lines,
            )
            run.reserve_transaction = reserve
        run.line_count = count
        run.total_cents = total_cents
        if not count:
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
            data={"currency": currency, "lines": count, "totalCents": total_cents},
        )
    return run
