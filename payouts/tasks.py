from celery import shared_task
from django.db import transaction
from django.utils import timezone

from marketplace.models import User
from payouts.models import PayoutRun
from payouts.progress import job_running
from payouts.services.holds import holds_release as release
from payouts.services.proofs import previous_period, statement_root_publish
from payouts.services.reconciliation import reconciliation_run
from payouts.services.repairs import reconciliation_repair
from payouts.services.runs import payout_run_create, payout_runs_open, payout_thresholds
from payouts.services.runs import payout_run_execute as execute


@shared_task(name="payouts.tasks.holds_release")
def holds_release() -> dict:
    """Hourly: move sales past the refund window from pending to available (idempotent)."""
    result = release(now=timezone.now())
    return {"released": result.released, "failed": result.failed}


@shared_task(name="payouts.tasks.payout_runs_create")
def payout_runs_create() -> dict:
    """Daily: one payout run per currency of PAYOUT_THRESHOLD_CENTS, then its execution is
    enqueued after commit. Safe to run twice: payees already in an unfinished line are left out,
    so a second run only gets lines that became due meanwhile."""
    created = {}
    for currency in sorted(payout_thresholds()):
        run = payout_run_create(currency=currency)
        created[currency] = run.pk
        if run.line_count:
            transaction.on_commit(lambda pk=run.pk: payout_run_execute.delay(pk), robust=True)
    # At each payout run the previous month's statement root is published if it is not yet, or
    # checked against the ledger again if it is (a mismatch fails that task, loudly).
    transaction.on_commit(lambda: statement_root_publish_previous.delay(), robust=True)
    return created


@shared_task(name="payouts.tasks.payout_run_execute")
def payout_run_execute(run_id: int, job: str | None = None, user_id: int | None = None) -> dict:
    """Execute one run (idempotent, safe concurrently: see payout_run_execute). Started from the
    admin: `job` is its progress record (payouts.progress), `user_id` the staff user audited."""
    with job_running(job) as progress:
        actor = User.objects.filter(pk=user_id).first() if user_id else None
        result = execute(run=PayoutRun.objects.get(pk=run_id), actor=actor)
        progress.update(
            sent=result.sent,
            failed=result.failed,
            paid=result.paid,
            retry=result.retry,
            stripe_unavailable=result.stripe_unavailable,
        )
    return {"sent": result.sent, "failed": result.failed, "paid": result.paid}


@shared_task(name="payouts.tasks.payout_runs_execute_open")
def payout_runs_execute_open() -> dict:
    """Every 15 minutes: execute every open run again (lines left pending while Stripe was
    down, lines abandoned `sending` by a crashed worker past the lease, sent lines to
    confirm)."""
    results = {}
    for run in payout_runs_open():
        result = execute(run=run)
        results[run.pk] = {"sent": result.sent, "failed": result.failed, "paid": result.paid}
    return results


@shared_task(name="payouts.tasks.reconcile")
def reconcile(job: str | None = None) -> dict:
    """Daily: reconcile the ledger against Stripe and store the report. Started from the admin:
    `job` is its progress record (payouts.progress)."""
    with job_running(job) as progress:
        report = reconciliation_run()
        progress.update(report=report.pk, ok=report.ok, problems=len(report.problems))
    return {"report": report.pk, "ok": report.ok, "problems": len(report.problems)}


@shared_task(name="payouts.tasks.reconcile_repair")
def reconcile_repair() -> dict:
    """Hourly: apply refunds, disputes and fees Stripe has and the ledger lacks (a lost webhook),
    incrementally from the stored watermarks; store the report."""
    report = reconciliation_repair()
    return {"report": report.pk, "ok": report.ok, "problems": len(report.problems)}


@shared_task(name="payouts.tasks.statement_root_publish_previous")
def statement_root_publish_previous(period: str | None = None) -> dict:
    """Monthly (the 1st): build, sign and publish the previous month's statement root. Idempotent:
    the same root again is a no-op; a different one (history rewritten) fails loudly."""
    root = statement_root_publish(period=period or previous_period(timezone.now()))
    return {"period": root.period, "root": root.root, "leaves": root.leaf_count}
