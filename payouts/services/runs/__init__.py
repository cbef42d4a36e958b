"""Payout runs: reserve what each payee is owed (set-based), then pay it with one Stripe Transfer
per line, safely re-executable after any crash.

Ledger flow of a line (micro-units; see payouts.models):
  run created   `payout-run:<run>`       payee AVAILABLE (debit) -> PAYOUT_IN_TRANSIT (credit)
  transfer made `payout-line:<line>`     PAYOUT_IN_TRANSIT (debit) -> PAYMENT_CLEARING (credit),
                                         external_reference = the Stripe transfer id
  refused       `payout-reversal:<line>` PAYOUT_IN_TRANSIT (debit) -> payee AVAILABLE (credit)

The reservation of a run is ONE journal transaction with one entry per line (not one per line):
the ledger's per-transaction triggers keep an open-transactions list per database transaction,
which would make 100,000 postings in one commit quadratic; a single posting is made from the
run's lines on the server (hashed by PostgreSQL, written with one INSERT ... SELECT: nothing per
line in the process). Each line's own postings (`payout-line:<id>`, `payout-reversal:<id>`) are
per line.

Lock order (extends payouts.services.journal's): a payout line row (select_for_update, one at a
time, in pk order), then ledger accounts, then the chain lock. No Stripe call is made while any
row lock or the chain lock is held.

The package: `create` (the run and its reservation), `lines` (each line's state changes and
their postings), `transfers` (the Stripe side of a line) and `execute` (paying a run).
"""

from payouts.services.runs.create import payout_run_create, payout_thresholds, run_reserve_key
from payouts.services.runs.execute import PayoutRunExecution, payout_run_execute, payout_runs_open
from payouts.services.runs.lines import (
    _line_claim,
    line_payout_key,
    line_reversal_key,
    payout_line_fail,
    payout_line_transfer_record,
    sending_lease,
)
from payouts.services.runs.transfers import _transfer_send

__all__ = [
    "PayoutRunExecution",
    "_line_claim",  # the crash tests drive one step of an execution by hand
    "_transfer_send",
    "line_payout_key",
    "line_reversal_key",
    "payout_line_fail",
    "payout_line_transfer_record",
    "payout_run_create",
    "payout_run_execute",
    "payout_runs_open",
    "payout_thresholds",
    "run_reserve_key",
    "sending_lease",
]
