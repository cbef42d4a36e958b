"""The finance console of the admin: the overview page, and payout execution and reconciliation
started from the admin. Starting one records a job and enqueues the Celery task after commit;
the admin request never calls Stripe. The job's page shows its state (queued, running, done,
failed) and refreshes itself until it is finished.

Who may: `payouts.view_finance_overview` (the overview, the ledger verification),
`payouts.execute_payoutrun` (creating and executing runs), `payouts.run_reconciliation`
(reconciling); anything else is 403."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from marketplace.tasking import task_enqueue_on_commit
from payouts import progress
from payouts.finance import finance_overview, ledger_verification_cached
from payouts.models import PayoutRun

VIEW_OVERVIEW = "payouts.view_finance_overview"
EXECUTE_RUNS = "payouts.execute_payoutrun"
RUN_RECONCILIATION = "payouts.run_reconciliation"
EXPORT_STATEMENTS = "payouts.export_statements"


def perm_require(request, *perms: str) -> None:
    """403 unless the user has one of `perms`."""
    if not any(request.user.has_perm(p) for p in perms):
        raise PermissionDenied


def admin_page(request, template: str, title: str, **context) -> TemplateResponse:
    return TemplateResponse(
        request,
        template,
        {**admin.site.each_context(request), "title": title, **context},
    )


def finance_overview_view(request):
    perm_require(request, VIEW_OVERVIEW)
    return admin_page(
        request,
        "admin/payouts/finance_overview.html",
        "Finance overview",
        overview=finance_overview(),
        can_execute=request.user.has_perm(EXECUTE_RUNS),
        can_reconcile=request.user.has_perm(RUN_RECONCILIATION),
    )


def ledger_verify_view(request):
    perm_require(request, VIEW_OVERVIEW)
    return admin_page(
        request,
        "admin/payouts/ledger_verify.html",
        "Ledger verification",
        verification=ledger_verification_cached(),
    )


def payout_run_execute_enqueue(request, run: PayoutRun) -> progress.Job:
    """Record the job and enqueue the run's execution after commit (the task calls Stripe)."""
    job = progress.job_create(kind=progress.PAYOUT_RUN_EXECUTE, subject=run.pk, user=request.user)
    task_enqueue_on_commit("payouts.tasks.payout_run_execute", run.pk, job.id, request.user.pk)
    return job


def job_url(job: progress.Job) -> str:
    return reverse("admin:payouts_finance_job", args=[job.id])


@require_http_methods(["GET", "POST"])
def payout_run_execute_view(request, run_id: int):
    perm_require(request, EXECUTE_RUNS)
    run = get_object_or_404(PayoutRun, pk=run_id)
    if request.method == "POST":
        return HttpResponseRedirect(job_url(payout_run_execute_enqueue(request, run)))
    return admin_page(
        request,
        "admin/payouts/confirm.html",
        f"Execute payout run {run.pk}",
        run=run,
        question=(
            f"Pay the pending lines of run {run.pk} ({run.currency}, {run.line_count} lines, "
            f"{run.total_cents} cents) with Stripe transfers? A worker does it; safe to repeat."
        ),
        button="Execute run",
    )


@require_http_methods(["GET", "POST"])
def reconciliation_run_view(request):
    perm_require(request, RUN_RECONCILIATION)
    if request.method == "POST":
        job = progress.job_create(kind=progress.RECONCILIATION, subject=None, user=request.user)
        task_enqueue_on_commit("payouts.tasks.reconcile", job.id)
        return HttpResponseRedirect(job_url(job))
    return admin_page(
        request,
        "admin/payouts/confirm.html",
        "Reconcile with Stripe",
        question=(
            "Compare every Stripe charge, refund and transfer with the ledger and store a "
            "report? A worker does it."
        ),
        button="Reconcile with Stripe now",
    )


def job_view(request, job_id: str):
    perm_require(request, VIEW_OVERVIEW, EXECUTE_RUNS, RUN_RECONCILIATION)
    job = progress.job_get(job_id)
    if job is None:
        raise Http404("No such job (or it is older than a day).")
    context = {"job": job}
    if job.kind == progress.PAYOUT_RUN_EXECUTE:
        run = PayoutRun.objects.filter(pk=job.subject).first()
        context["run"] = run
        if run is not None:
            context["line_states"] = list(
                run.lines.values("status")
                .annotate(n=Count("id"), cents=Sum("amount_cents"))
                .order_by("status")
            )
    elif job.result.get("report"):
        context["report_url"] = reverse(
            "admin:payouts_reconciliationreport_change", args=[job.result["report"]]
        )
    title = (
        f"Payout run {job.subject}: execution"
        if job.kind == progress.PAYOUT_RUN_EXECUTE
        else "Reconciliation with Stripe"
    )
    return admin_page(request, "admin/payouts/job.html", title, **context)


def runs_execute_enqueue(model_admin, request, queryset):
    """The changelist action: one job per selected run; one run goes straight to its page."""
    jobs = [payout_run_execute_enqueue(request, run) for run in queryset.order_by("pk")]
    if len(jobs) == 1:
        return HttpResponseRedirect(job_url(jobs[0]))
    for job in jobs:
        model_admin.message_user(
            request,
            f"Run {job.subject}: execution queued — progress at {job_url(job)}",
            messages.SUCCESS,
        )
    return None
