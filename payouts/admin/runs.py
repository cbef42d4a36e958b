"""Payout runs: browse them and their lines, create runs, execute them (finance staff with
`payouts.execute_payoutrun`: this pays money out; a Celery task does it, see
payouts.admin.finance), export them (`payouts.export_statements`). The finance overview and the
job pages hang off this admin's URLs."""

from django.contrib import admin
from django.db.models import Count, Sum
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from payouts.admin.base import INLINE_ENTRIES_SHOWN, ReadOnlyLedgerAdmin, _FirstEntriesFormSet
from payouts.admin.finance import (
    EXECUTE_RUNS,
    EXPORT_STATEMENTS,
    admin_page,
    finance_overview_view,
    job_view,
    ledger_verify_view,
    payout_run_execute_view,
    perm_require,
    runs_execute_enqueue,
)
from payouts.admin.statements import RUN_CSV_HEADERS, _run_csv_rows, payee_statement_view
from payouts.exports import csv_response
from payouts.models import PayoutLine, PayoutRun
from payouts.services.runs import payout_run_create, payout_thresholds


class PayoutLineInline(admin.TabularInline):
    model = PayoutLine
    formset = _FirstEntriesFormSet
    fields = ["line_link", "payee", "amount_cents", "currency", "status", "transfer_id"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = f"lines (first {INLINE_ENTRIES_SHOWN})"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("payee__organization", "payee__contributor")
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="line")
    def line_link(self, line):
        url = reverse("admin:payouts_payoutline_change", args=[line.pk])
        return format_html('<a href="{}">{}</a>', url, line.pk)


@admin.register(PayoutRun)
class PayoutRunAdmin(ReadOnlyLedgerAdmin):
    list_display = [
        "id",
        "currency",
        "status",
        "line_count",
        "total_cents",
        "created_at",
        "last_executed_at",
        "completed_at",
    ]
    list_filter = ["status", "currency"]
    readonly_fields = [
        "currency",
        "status",
        "threshold_cents",
        "line_count",
        "total_cents",
        "reserve_transaction",
        "created_by",
        "created_at",
        "last_executed_at",
        "completed_at",
        "status_counts",
        "csv_link",
    ]
    fields = readonly_fields
    inlines = [PayoutLineInline]
    actions = ["execute_runs", "export_csv"]

    def get_urls(self):
        extra = [
            path(
                "create/",
                self.admin_site.admin_view(self.create_view),
                name="payouts_payoutrun_create",
            ),
            path(
                "<int:run_id>/csv/",
                self.admin_site.admin_view(self.csv_view),
                name="payouts_payoutrun_csv",
            ),
            path(
                "statement/<int:payee_id>/<str:currency>/",
                self.admin_site.admin_view(payee_statement_view),
                name="payouts_payee_statement",
            ),
            path(
                "verify-ledger/",
                self.admin_site.admin_view(ledger_verify_view),
                name="payouts_verify_ledger",
            ),
            path(
                "finance/",
                self.admin_site.admin_view(finance_overview_view),
                name="payouts_finance_overview",
            ),
            path(
                "<int:run_id>/execute/",
                self.admin_site.admin_view(payout_run_execute_view),
                name="payouts_payoutrun_execute",
            ),
            path(
                "jobs/<str:job_id>/",
                self.admin_site.admin_view(job_view),
                name="payouts_finance_job",
            ),
        ]
        return extra + super().get_urls()

    @admin.display(description="lines by status")
    def status_counts(self, run):
        rows = (
            run.lines.values_list("status")
            .annotate(n=Count("id"), cents=Sum("amount_cents"))
            .order_by("status")
        )
        return ", ".join(f"{status}: {n} ({cents} cents)" for status, n, cents in rows) or "-"

    @admin.display(description="export and checks")
    def csv_link(self, run):
        return format_html(
            '<a href="{}">execute</a> · <a href="{}">CSV of all lines</a> · '
            '<a href="{}">finance overview</a> · <a href="{}">reconciliation reports</a> · '
            '<a href="{}">create runs</a>',
            reverse("admin:payouts_payoutrun_execute", args=[run.pk]),
            reverse("admin:payouts_payoutrun_csv", args=[run.pk]),
            reverse("admin:payouts_finance_overview"),
            reverse("admin:payouts_reconciliationreport_changelist"),
            reverse("admin:payouts_payoutrun_create"),
        )

    def has_execute_permission(self, request):
        """Paying money out: finance staff only."""
        return request.user.has_perm(EXECUTE_RUNS)

    def has_export_permission(self, request):
        return request.user.has_perm(EXPORT_STATEMENTS)

    @admin.action(
        description="Execute the selected runs (a worker pays pending lines; safe to repeat)",
        permissions=["execute"],
    )
    def execute_runs(self, request, queryset):
        return runs_execute_enqueue(self, request, queryset)

    @admin.action(description="Export the selected runs' lines as CSV", permissions=["export"])
    def export_csv(self, request, queryset):
        return csv_response("payout-runs.csv", RUN_CSV_HEADERS, _run_csv_rows(queryset))

    def create_view(self, request):
        perm_require(request, EXECUTE_RUNS)
        if request.method == "POST":
            for currency in sorted(payout_thresholds()):
                run = payout_run_create(currency=currency, actor=request.user)
                self.message_user(
                    request,
                    f"Created run {run.pk} ({currency}): {run.line_count} lines, {run.total_cents} cents",
                )
            return HttpResponseRedirect(reverse("admin:payouts_payoutrun_changelist"))
        thresholds = ", ".join(f"{c} ≥ {t} cents" for c, t in sorted(payout_thresholds().items()))
        return admin_page(
            request,
            "admin/payouts/confirm.html",
            "Create payout runs",
            question=f"Create one run per configured currency ({thresholds})?",
            button="Create payout runs",
        )

    def csv_view(self, request, run_id: int):
        perm_require(request, EXPORT_STATEMENTS)
        run = get_object_or_404(PayoutRun, pk=run_id)
        return csv_response(
            f"payout-run-{run.pk}.csv",
            RUN_CSV_HEADERS,
            _run_csv_rows(PayoutRun.objects.filter(pk=run.pk)),
        )
