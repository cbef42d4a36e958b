"""Read-only ledger admin: staff can browse accounts, transactions and their entries; nothing
can be added, changed or deleted here (the database refuses it too)."""

import csv

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template import Context, Template
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from contributors.models import Payee
from payouts.models import (
    MICRO_PER_UNIT,
    Entry,
    JournalTransaction,
    LedgerAccount,
    PayoutLine,
    PayoutRun,
    ReconciliationReport,
)

INLINE_ENTRIES_SHOWN = 200


def _micro(amount: int) -> str:
    """Micro-units as a decimal amount of the currency unit: 12345678 -> 12.345678."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), MICRO_PER_UNIT)
    return f"{sign}{whole:,}.{frac:06d}"


class ReadOnlyLedgerAdmin(admin.ModelAdmin):
    actions = None

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _FirstEntriesFormSet(BaseInlineFormSet):
    """A sale can have 100,000 entries: the inline shows the first ones and links to the rest."""

    def get_queryset(self):
        return super().get_queryset()[:INLINE_ENTRIES_SHOWN]


class EntryInline(admin.TabularInline):
    model = Entry
    formset = _FirstEntriesFormSet
    fields = ["account", "currency", "amount", "amount_display"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = f"entries (first {INLINE_ENTRIES_SHOWN}; positive = debit, micro-units)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account").order_by("account_id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="amount (units)")
    def amount_display(self, entry):
        return _micro(entry.amount)


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyLedgerAdmin):
    list_display = ["id", "kind", "currency", "payee", "created_at", "entries_link"]
    list_filter = ["kind", "currency"]
    search_fields = ["=id", "=payee__id", "payee__organization__name", "payee__contributor__email"]
    list_select_related = ["payee__organization", "payee__contributor"]
    readonly_fields = ["kind", "currency", "payee", "created_at", "balance", "entries_link"]
    fields = readonly_fields

    @admin.display(description="balance (normal side, units)")
    def balance(self, account):
        from payouts.services.balances import account_balance

        return _micro(account_balance(account=account))

    @admin.display(description="entries")
    def entries_link(self, account):
        url = reverse("admin:payouts_entry_changelist") + f"?account__id__exact={account.pk}"
        return format_html('<a href="{}">entries</a>', url)


@admin.register(JournalTransaction)
class JournalTransactionAdmin(ReadOnlyLedgerAdmin):
    list_display = [
        "sequence",
        "kind",
        "idempotency_key",
        "external_reference",
        "created_at",
        "short_hash",
    ]
    list_filter = ["kind"]
    search_fields = ["=idempotency_key", "=external_reference", "=hash"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "sequence",
        "kind",
        "idempotency_key",
        "created_at",
        "dataset_version",
        "share_table",
        "related_transaction",
        "external_reference",
        "prev_hash",
        "hash",
        "entries_link",
    ]
    fields = readonly_fields
    raw_id_fields = ["dataset_version", "share_table", "related_transaction"]
    inlines = [EntryInline]

    @admin.display(description="hash")
    def short_hash(self, journal):
        return journal.hash[:12]

    @admin.display(description="all entries")
    def entries_link(self, journal):
        url = reverse("admin:payouts_entry_changelist") + f"?transaction__id__exact={journal.pk}"
        return format_html('<a href="{}">{} entries</a>', url, journal.entries.count())


@admin.register(Entry)
class EntryAdmin(ReadOnlyLedgerAdmin):
    list_display = ["id", "transaction", "account", "currency", "amount", "amount_display"]
    list_filter = ["currency", "account__kind"]
    list_select_related = ["transaction", "account"]
    readonly_fields = ["transaction", "account", "currency", "amount", "amount_display"]
    fields = readonly_fields
    show_full_result_count = False

    @admin.display(description="amount (units)")
    def amount_display(self, entry):
        return _micro(entry.amount)


# --- payout runs, lines, statements, reconciliation (read-only audit) ---------------------------

_PAGE = Template(
    '{% extends "admin/base_site.html" %}{% block content %}<h1>{{ title }}</h1>'
    "{{ body }}{% endblock %}"
)


def _page(request, title: str, body) -> HttpResponse:
    context = {**admin.site.each_context(request), "title": title, "body": body}
    return HttpResponse(_PAGE.render(Context(context)))


def _table(headers: list[str], rows) -> str:
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows),
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


def _csv_response(filename: str, headers: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(headers)
    writer.writerows(rows)
    return response


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


RUN_CSV_HEADERS = [
    "line",
    "payee",
    "payee_kind",
    "payee_name",
    "currency",
    "amount_cents",
    "status",
    "destination",
    "transfer_id",
    "idempotency_key",
    "failure_code",
    "created_at",
    "sent_at",
    "finished_at",
]


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
                self.admin_site.admin_view(self.statement_view),
                name="payouts_payee_statement",
            ),
            path(
                "verify-ledger/",
                self.admin_site.admin_view(self.verify_view),
                name="payouts_verify_ledger",
            ),
        ]
        return extra + super().get_urls()

    @admin.display(description="lines by status")
    def status_counts(self, run):
        from django.db.models import Count, Sum

        rows = (
            run.lines.values_list("status")
            .annotate(n=Count("id"), cents=Sum("amount_cents"))
            .order_by("status")
        )
        return ", ".join(f"{status}: {n} ({cents} cents)" for status, n, cents in rows) or "-"

    @admin.display(description="export and checks")
    def csv_link(self, run):
        return format_html(
            '<a href="{}">CSV of all lines</a> · <a href="{}">ledger verification</a> · '
            '<a href="{}">reconciliation reports</a> · <a href="{}">create runs</a>',
            reverse("admin:payouts_payoutrun_csv", args=[run.pk]),
            reverse("admin:payouts_verify_ledger"),
            reverse("admin:payouts_reconciliationreport_changelist"),
            reverse("admin:payouts_payoutrun_create"),
        )

    def has_execute_permission(self, request):
        """Paying money out: superusers (finance) only."""
        return request.user.is_superuser

    @admin.action(
        description="Execute the selected runs (pays pending lines; safe to repeat)",
        permissions=["execute"],
    )
    def execute_runs(self, request, queryset):
        from payouts.services.runs import payout_run_execute

        for run in queryset.order_by("pk"):
            result = payout_run_execute(run=run, actor=request.user)
            self.message_user(
                request,
                f"Run {run.pk}: {result.sent} sent, {result.failed} failed, {result.paid} paid"
                + (
                    " — Stripe unavailable, pending lines left for the next run"
                    if result.stripe_unavailable
                    else ""
                ),
                messages.WARNING
                if result.stripe_unavailable or result.failed
                else messages.SUCCESS,
            )

    @admin.action(description="Export the selected runs' lines as CSV")
    def export_csv(self, request, queryset):
        return _csv_response("payout-runs.csv", RUN_CSV_HEADERS, _run_csv_rows(queryset))

    def create_view(self, request):
        if not self.has_view_permission(request) or not request.user.is_superuser:
            raise PermissionDenied
        from payouts.services.runs import payout_run_create, payout_thresholds

        if request.method == "POST":
            for currency in sorted(payout_thresholds()):
                run = payout_run_create(currency=currency, actor=request.user)
                self.message_user(
                    request,
                    f"Created run {run.pk} ({currency}): {run.line_count} lines, {run.total_cents} cents",
                )
            return HttpResponseRedirect(reverse("admin:payouts_payoutrun_changelist"))
        from django.middleware.csrf import get_token

        body = format_html(
            '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            "<p>Create one run per configured currency ({}).</p>"
            '<input type="submit" value="Create payout runs"></form>',
            get_token(request),
            ", ".join(f"{c} ≥ {t} cents" for c, t in sorted(payout_thresholds().items())),
        )
        return _page(request, "Create payout runs", body)

    def csv_view(self, request, run_id: int):
        run = get_object_or_404(PayoutRun, pk=run_id)
        return _csv_response(
            f"payout-run-{run.pk}.csv",
            RUN_CSV_HEADERS,
            _run_csv_rows(PayoutRun.objects.filter(pk=run.pk)),
        )

    def statement_view(self, request, payee_id: int, currency: str):
        from payouts.selectors import payee_statement

        payee = get_object_or_404(Payee, pk=payee_id)
        rows = payee_statement(payee=payee, currency=currency)
        headers = [
            "sequence",
            "created_at",
            "kind",
            "idempotency_key",
            "external_reference",
            "amount",
            "balance",
        ]
        values = [
            [
                r["sequence"],
                r["created_at"].isoformat(),
                r["kind"],
                r["idempotency_key"],
                r["external_reference"],
                _micro(r["amount"]),
                _micro(r["balance"]),
            ]
            for r in rows
        ]
        if request.GET.get("format") == "csv":
            return _csv_response(f"statement-payee-{payee.pk}-{currency}.csv", headers, values)
        body = format_html(
            '<p>Available balance of {} in {} (units; positive = owed to the payee). <a href="?format=csv">CSV</a></p>{}',
            payee,
            currency,
            _table(headers, values),
        )
        return _page(request, f"Statement of {payee}", body)

    def verify_view(self, request):
        from payouts.services.verify import ledger_verify

        result = ledger_verify()
        return _page(
            request,
            "Ledger verification",
            format_html(
                "<p><strong>{}</strong></p><p>{}</p>",
                "OK" if result.ok else "MISMATCH",
                str(result),
            ),
        )


def _run_csv_rows(runs):
    lines = (
        PayoutLine.objects.filter(run__in=runs)
        .select_related("payee__organization", "payee__contributor")
        .order_by("run_id", "pk")
    )
    for line in lines.iterator(chunk_size=2000):
        yield [
            line.pk,
            line.payee_id,
            line.payee.kind,
            str(line.payee),
            line.currency,
            line.amount_cents,
            line.status,
            line.destination,
            line.transfer_id,
            line.idempotency_key,
            line.failure_code,
            line.created_at.isoformat(),
            line.sent_at.isoformat() if line.sent_at else "",
            line.finished_at.isoformat() if line.finished_at else "",
        ]


@admin.register(PayoutLine)
class PayoutLineAdmin(ReadOnlyLedgerAdmin):
    list_display = ["id", "run", "payee", "currency", "amount_cents", "status", "transfer_id"]
    list_filter = ["status", "currency"]
    search_fields = ["=id", "=transfer_id", "=payee__id"]
    list_select_related = ["run", "payee__organization", "payee__contributor"]
    readonly_fields = [
        "run",
        "payee",
        "currency",
        "amount_cents",
        "status",
        "destination",
        "idempotency_key",
        "transfer_id",
        "attempts",
        "failure_code",
        "failure_message",
        "created_at",
        "sending_at",
        "sent_at",
        "finished_at",
        "ledger_entries",
        "sales",
        "statement_link",
    ]
    fields = readonly_fields

    @admin.display(description="ledger entries behind this line")
    def ledger_entries(self, line):
        rows = []
        reserve = line.run.reserve_transaction
        if reserve is not None:
            for entry in Entry.objects.filter(
                transaction=reserve, account__payee_id=line.payee_id
            ).select_related("account", "transaction"):
                rows.append(entry)
        for journal in (line.payout_transaction, line.reversal_transaction):
            if journal is not None:
                rows.extend(
                    Entry.objects.filter(transaction=journal).select_related(
                        "account", "transaction"
                    )
                )
        return _table(
            ["transaction", "kind", "account", "amount (units)", "external reference"],
            [
                (
                    format_html(
                        '<a href="{}">{}</a>',
                        reverse("admin:payouts_journaltransaction_change", args=[e.transaction_id]),
                        e.transaction.idempotency_key,
                    ),
                    e.transaction.kind,
                    str(e.account),
                    _micro(e.amount),
                    e.transaction.external_reference,
                )
                for e in rows
            ],
        )

    @admin.display(
        description="sales this line settled (released since the payee's previous payout)"
    )
    def sales(self, line):
        from payouts.selectors import payout_line_sources

        return _table(
            ["sale", "order reference", "payment reference", "payee share, net of refunds (units)"],
            [
                (
                    format_html(
                        '<a href="{}">#{}</a>',
                        reverse(
                            "admin:payouts_journaltransaction_change",
                            args=[s.id],
                        ),
                        s.sequence,
                    ),
                    s.order_ref,
                    s.external_reference,
                    _micro(s.share),
                )
                for s in payout_line_sources(line=line)
            ],
        )

    @admin.display(description="payee statement")
    def statement_link(self, line):
        url = reverse("admin:payouts_payee_statement", args=[line.payee_id, line.currency])
        return format_html('<a href="{}">statement</a> (<a href="{}?format=csv">CSV</a>)', url, url)


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
            from django.middleware.csrf import get_token

            body = format_html(
                '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="{}">'
                '<input type="submit" value="Reconcile with Stripe now"></form>',
                get_token(request),
            )
            return _page(request, "Reconcile with Stripe", body)
        from payouts.services.reconciliation import reconciliation_run

        report = reconciliation_run()
        return HttpResponseRedirect(
            reverse("admin:payouts_reconciliationreport_change", args=[report.pk])
        )
