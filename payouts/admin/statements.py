"""Statements and exports: a payee's available balance as a statement (page or CSV) and the
lines of payout runs as CSV."""

from django.shortcuts import get_object_or_404
from django.utils.html import format_html

from contributors.models import Payee
from payouts.admin.base import _micro
from payouts.admin.pages import _page, _table
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
    payee = get_object_or_404(Payee, pk=payee_id)
    rows = payee_statement(payee=payee, currency=currency)
    if request.GET.get("format") == "csv":
        return csv_response(
            f"statement-payee-{payee.pk}-{currency}.csv",
            STATEMENT_CSV_HEADERS,
            statement_csv_rows(rows),
        )
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
    body = format_html(
        '<p>Available balance of {} in {} (units; positive = owed to the payee). <a href="?format=csv">CSV</a></p>{}',
        payee,
        currency,
        _table(STATEMENT_CSV_HEADERS, values),
    )
    return _page(request, f"Statement of {payee}", body)
