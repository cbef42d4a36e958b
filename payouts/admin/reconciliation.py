"""Reconciliation reports against Stripe, and running one now (a Celery task does it; see
payouts.admin.finance)."""

from django.contrib import admin
from django.urls import path

from payouts.admin.base import ReadOnlyLedgerAdmin
from payouts.admin.finance import reconciliation_run_view
from payouts.admin.pages import _table
from payouts.models import ReconciliationReport


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(ReadOnlyLedgerAdmin):
    list_display = ["id", "created_at", "ok", "counts", "problem_count"]
    list_filter = ["ok"]
    readonly_fields = ["created_at", "ok", "counts", "problem_table"]
    fields = readonly_fields

    def get_urls(self):
        return [
            path(
                "run/",
                self.admin_site.admin_view(reconciliation_run_view),
                name="payouts_reconciliation_run",
            ),
        ] + super().get_urls()

    @admin.display(description="problems")
    def problem_count(self, report):
        return len(report.problems)

    @admin.display(description="problems (unmatched items, clearing not zero)")
    def problem_table(self, report):
        return _table(
            ["problem", "object", "id", "detail"],
            [(p["problem"], p["object"], p["id"], p["detail"]) for p in report.problems],
        )
