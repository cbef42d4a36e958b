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
from payouts.services.journal.streamed import id_block_sql, journal_post_payee_query

Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind


def payout_thresholds() -> dict[str, int]:
    """Setting PAYOUT_THRESHOLD_CENTS: {currency: minimum available balance in cents}. The
    currencies listed are the ones the periodic task pays out."""
    return dict(settings.PAYOUT_THRESHOLD_CENTS)


def run_reserve_key(run: PayoutRun) -> str:
    return f"payout-run:{run.pk}"


# The payees with an unfinished line in the currency, which get no new line. Unfinished lines
# are only in open runs (a run is completed once none of its lines is unfinished, and a
# finished line stays finished), so this reads the lines of the currency's open runs through
# payout_line_run_status: usually none (the run being created has no lines yet), never the
# payees' whole history. uniq_payout_line_payee_open refuses a second unfinished line whatever
# this lets through. A table with statistics (ANALYZE) rather than a subquery: the pick's
# anti-join is then planned on the real count, never as a nested loop over rows estimated at
# one.
_BUSY = """
CREATE TEMPORARY TABLE payout_run_busy ON COMMIT DROP AS
SELECT DISTINCT l.payee_id
FROM payouts_payoutrun r
JOIN payouts_payoutline l ON l.run_id = r.id AND l.status IN ('pending', 'sending', 'sent')
WHERE r.status = 'open' AND r.currency = %(currency)s
"""

# The run's lines, picked once into a temporary table (dropped at commit) that both the lines'
# INSERT and the reservation read: no second join to the accounts. `n` numbers them from 1: a
# line's id is the first id of the run's block + n - 1 (see _IDS).
_PICK = """
CREATE TEMPORARY TABLE payout_run_picked ON COMMIT DROP AS
SELECT row_number() OVER () AS n, s.*
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
      AND NOT EXISTS (SELECT 1 FROM payout_run_busy u WHERE u.payee_id = a.payee_id)
    ORDER BY a.payee_id
) s
"""

# Two numbers, nothing per line comes back to the process, and the first of the lines' ids
# (one block of the sequence, see `id_block_sql`: runs are created one at a time under the
# chain lock, so the block is the run's; pk order is creation order, which a line's audit trail
# relies on).
_TOTALS = f"""
SELECT t.n, t.cents, CASE WHEN t.n > 0 THEN {id_block_sql("payouts_payoutline", "t.n")} END
FROM (
    SELECT count(*) AS n, coalesce(sum(amount_cents), 0)::bigint AS cents FROM payout_run_picked
) t
"""  # noqa: S608 - constants only

_LINES = """
INSERT INTO payouts_payoutline (
    id, run_id, payee_id, currency, amount_cents, status, destination, idempotency_key,
    transfer_id, attempts, failure_code, failure_message, created_at
)
SELECT k.id, %(run)s, k.payee_id, %(currency)s, k.amount_cents, 'pending', k.destination,
       k.id::text, '', 0, '', '', %(now)s
FROM (SELECT %(first_id)s::bigint + n - 1 AS id, * FROM payout_run_picked) k
"""

# The reservation's payee entries: each line's amount, in micro-units, debited from the payee's
# AVAILABLE account (the account read from its row by _PICK); `n` numbers the entries' ids too.
_RESERVE_ROWS = """
SELECT n, account_id, payee_id, amount_cents * %(micro)s AS amount FROM payout_run_picked
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
    memory: one INSERT ... SELECT for the lines, and the reservation's entries hashed by
    PostgreSQL, then written with one INSERT ... SELECT, whatever the number of payees.

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
            # this transaction keeps their sorts of 100,000s of rows in memory. No JIT: the
            # pick's cost estimate crosses jit_above_cost at 100,000 payees, and compiling it
            # took longer (~140 ms) than the compiled code saved on statements this simple.
            cursor.execute(
                "SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)"
            )
            # (Dropped at commit; first also here for a run inside a test's transaction.)
            cursor.execute(
                "DROP TABLE IF EXISTS pg_temp.payout_run_busy, pg_temp.payout_run_picked"
            )
            cursor.execute(_BUSY, params)
            cursor.execute("ANALYZE pg_temp.payout_run_busy")
            cursor.execute(_PICK, params)
            cursor.execute(_TOTALS)
            count, total_cents, first_id = cursor.fetchone()
            if count:
                cursor.execute(_LINES, {**params, "first_id": first_id})
                if cursor.rowcount != count:
                    raise RuntimeError(f"run {run.pk}: inserted {cursor.rowcount} of {count}")
        if count:
            reserve, _ = journal_post_payee_query(
                idempotency_key=run_reserve_key(run),
                kind=TxKind.PAYOUT_RESERVE,
                rows_sql=_RESERVE_ROWS,
                params=params,
                payee_kind=Kind.PAYEE_AVAILABLE,
                balancing=in_transit,
                rows_numbered=True,
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
