"""CSV downloads of the ledger, for the admin and for the site's money pages: one writer, and
one shape of a payee's statement.

A cell that starts with `=`, `+`, `-`, `@` (or a tab or carriage return) is run as a formula by
spreadsheet programs; references such as a Stripe id or an order ref come from outside, so every
such text cell is prefixed with `'` (OWASP's CSV injection advice). Plain numbers (`-12.5`) are
left alone: a number is never a formula, and escaping it would turn it into text."""

import csv
import re
from collections.abc import Iterable

from django.http import HttpResponse

from payouts.models import MICRO_PER_UNIT

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")

STATEMENT_CSV_HEADERS = [
    "sequence",
    "created_at",
    "kind",
    "idempotency_key",
    "external_reference",
    "amount",
    "balance",
]


def csv_cell(value):
    """The value as written to a CSV cell, a would-be formula escaped."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_response(filename: str, headers: list[str], rows: Iterable[Iterable]) -> HttpResponse:
    """An attachment `filename` with the header row, then `rows`, every cell through
    `csv_cell`."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([csv_cell(h) for h in headers])
    writer.writerows([csv_cell(c) for c in row] for row in rows)
    return response


def micro_decimal(amount: int) -> str:
    """Micro-units as a plain decimal of the currency unit, for CSV (no thousands separator):
    -12345678 -> "-12.345678"."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), MICRO_PER_UNIT)
    return f"{sign}{whole}.{frac:06d}"


def statement_csv_rows(rows: list[dict]) -> list[list]:
    """`payouts.selectors.payee_statement` rows as CSV rows under STATEMENT_CSV_HEADERS."""
    return [
        [
            r["sequence"],
            r["created_at"].isoformat(),
            r["kind"],
            r["idempotency_key"],
            r["external_reference"],
            micro_decimal(r["amount"]),
            micro_decimal(r["balance"]),
        ]
        for r in rows
    ]
