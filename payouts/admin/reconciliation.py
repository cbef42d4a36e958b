"""Reconciliation reports against Stripe, and running one now."""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.middleware.csrf import get_token
from django.urls import path, reverse
from django.utils.html import format_html

from payouts.admin.base import ReadOnlyLedgerAdmin
from payouts.admin.pages import _page, _table
from payouts.models import ReconciliationReport
from payouts.services.reconciliation import reconciliation_run


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(ReadOnlyLedgerAdmin):
    list_display = ["id", "created_at", "ok", "counts", "problem_count"]
    list_filter = ["ok"]
    readonly_fields = ["created_at", "ok", "counts", "problem_table"]
    fields = readonly_fields

    def get_urls(self):
        return [
            path(
                "run/", self.admin_site.admin_view(self.run_view), name="payouts_reconciliation_run"
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

    def run_view(self, request):
        if request.method != "POST":
            body = format_html(
                '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="{}">'
                '<input type="submit" value="Reconcile with Stripe now"></form>',
                get_token(request),
            )
            return _page(request, "Reconcile with Stripe", body)
        report = reconciliation_run()
        return HttpResponseRedirect(
            reverse("admin:payouts_reconciliationreport_change", args=[report.pk])
        )
