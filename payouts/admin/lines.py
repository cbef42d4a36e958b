"""Payout lines, each with the ledger entries behind it and the sales it settled."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from payouts.admin.base import ReadOnlyLedgerAdmin, _micro
from payouts.admin.pages import _table
from payouts.models import Entry, PayoutLine
from payouts.selectors import payout_line_sources


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
