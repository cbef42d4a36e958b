"""Creating a payout run: one line per payee owed at least the threshold, and the reservation
of their money, set-based, in one transaction."""

from __future__ import annotations

import re
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from marketplace.services.audit import audit_record
from marketplace.services.errors import Invalid
from payouts.models import CURRENCY_RE, MICRO_PER_CENT, JournalTransaction, LedgerAccount, PayoutRun
from payouts.services.journal import ledger_chain_lock, platform_account
from payouts.services.journal.streamed import journal_post_payee_query

Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind


def payout_thresholds() -> dict[str, int]:
    """Setting PAYOUT_THRESHOLD_CENTS: {currency: minimum available balance in cents}. The
    currencies listed are the ones the periodic task pays out."""
    return dict(settings.PAYOUT_THRESHOLD_CENTS)


def run_reserve_key(run: PayoutRun) -> str:
    return f"payout-run:{run.pk}"


# The run's lines, picked once into a temporary table (dropped at commit) that both the lines'
# INSERT and the reservation read: no second join to the accounts.
_PICK = """
CREATE TEMPORARY TABLE payout_run_picked ON COMMIT DROP AS
SELECT nextval((SELECT pg_get_serial_sequence('payouts_payoutline', 'id'))::regclass) AS id,
       s.*
FROM (
    -- The payees' accounts in payee order from ledger_account_kind_payee, each balance an
    -- index-only sum over payouts_entry_account_balance: no scan of other currencies' accounts
    -- or entries, no sort. sum() is numeric: div() truncates (a plain cast would round a half
    -- cent up).
    SELECT a.payee_id, a.id AS account_id, div(b.available, %(micro)s)::bigint AS amount_cents,
           pa.stripe_account_id AS destination
    FROM payouts_ledgeraccount a
    CROSS JOIN LATERAL (
        SELECT -sum(e.amount) AS available FROM payouts_entry e WHERE e.account_id = a.id
    ) b
    JOIN contributors_payoutaccount pa
      ON pa.payee_id = a.payee_id AND pa.payouts_enabled
    WHERE a.kind = %(kind)s AND a.currency = %(currency)s AND a.payee_id IS NOT NULL
      AND b.available >= %(threshold)s
      AND NOT EXISTS (
          SELECT 1 FROM payouts_payoutline l
          WHERE l.payee_id = a.payee_id AND l.currency = %(currency)s
            AND l.status IN ('pending', 'sending', 'sent')
      )
    ORDER BY a.payee_id
) s
"""

_LINES = """
WITH inserted AS (
    INSERT INTO payouts_payoutline (
        id, run_id, payee_id, currency, amount_cents, status, destination, idempotency_key,
        transfer_id, attempts, failure_code, failure_message, created_at
    )
    SELECT k.id, %(run)s, k.payee_id, %(currency)s, k.amount_cents, 'pending', k.destination,
           k.id::text, '', 0, '', '', %(now)s
    FROM payout_run_picked k
    RETURNING amount_cents
)
-- Two numbers: nothing per line comes back to the process.
SELECT count(*), coalesce(sum(amount_cents), 0) FROM inserted
"""

# The reservation's payee entries: each line's amount, in micro-units, debited from the payee's
# AVAILABLE account (the account read from its row by _PICK).
_RESERVE_ROWS = """
SELECT account_id, payee_id, amount_cents * %(micro)s AS amount FROM payout_run_picked
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
    can change a balance between reading it and reserving it. Set-based and in constant
    memory: one INSERT ... SELECT for the lines, and the reservation's entries streamed from
    them to be hashed, then written with one INSERT ... SELECT, whatever the number of payees.

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
        params = {
            "kind": Kind.PAYEE_AVAILABLE,
            "currency": currency,
            "run": run.pk,
            "now": now,
            "micro": MICRO_PER_CENT,
            "threshold": threshold_cents * MICRO_PER_CENT,
        }
        with connection.cursor() as cursor:
            # The lines and the reservation are set-based on the server; a larger work_mem for
            # this transaction keeps their sorts of 100,000s of rows in memory.
            cursor.execute("SET LOCAL work_mem = '64MB'")
            # (Dropped at commit; first also here for a run inside a test's transaction.)
            cursor.execute("DROP TABLE IF EXISTS pg_temp.payout_run_picked")
            cursor.execute(_PICK, params)
            cursor.execute(_LINES, params)
            count, total_cents = (int(x) for x in cursor.fetchone())
        if count:
            reserve, _ = journal_post_payee_query(
                idempotency_key=run_reserve_key(run),
                kind=TxKind.PAYOUT_RESERVE,
                rows_sql=_RESERVE_ROWS,
                params=params,
                payee_kind=Kind.PAYEE_AVAILABLE,
                balancing=in_transit,
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
