"""Statements and exports: a payee's available balance as a statement (page or CSV) and the
lines of payout runs as CSV."""

from django.shortcuts import get_object_or_404

from contributors.models import Payee
from payouts.admin.finance import EXPORT_STATEMENTS, admin_page, perm_require
from payouts.exports import STATEMENT_CSV_HEADERS, csv_response, statement_csv_rows
from payouts.models import PayoutLine
from payouts.selectors import payee_statement

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


def payee_statement_view(request, payee_id: int, currency: str):
    perm_require(request, EXPORT_STATEMENTS)
    payee = get_object_or_404(Payee, pk=payee_id)
    rows = payee_statement(payee=payee, currency=currency)
    if request.GET.get("format") == "csv":
        return csv_response(
            f"statement-payee-{payee.pk}-{currency}.csv",
            STATEMENT_CSV_HEADERS,
            statement_csv_rows(rows),
        )
    return admin_page(
        request,
        "admin/payouts/statement.html",
        f"Statement of {payee}",
        payee=payee,
        currency=currency,
        headers=STATEMENT_CSV_HEADERS,
        rows=rows,
    )
