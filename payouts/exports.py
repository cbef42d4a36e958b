"""CSV downloads of the ledger, for the admin and for the site's money pages: one writer, and
one shape of a payee's statement. Every cell goes through `marketplace.csv_safe.csv_cell` (a
would-be formula is escaped, OWASP's CSV injection advice)."""

import csv
import json
from collections.abc import Iterable

from django.http import HttpResponse

from marketplace.csv_safe import FORMULA_START, csv_cell, csv_row
from payouts.models import MICRO_PER_UNIT

__all__ = [
    "FORMULA_START",
    "STATEMENT_CSV_HEADERS",
    "csv_cell",
    "csv_response",
    "micro_decimal",
    "statement_csv_rows",
    "statement_proof_csv_rows",
]

STATEMENT_CSV_HEADERS = [
    "sequence",
    "created_at",
    "kind",
    "idempotency_key",
    "external_reference",
    "amount",
    "balance",
]


def csv_response(filename: str, headers: list[str], rows: Iterable[Iterable]) -> HttpResponse:
    """An attachment `filename` with the header row, then `rows`, every cell through
    `csv_cell`."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(csv_row(headers))
    writer.writerows(csv_row(row) for row in rows)
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


STATEMENT_PROOF_CSV_HEADERS = [
    "statement_period",
    "root",
    "leaf_index",
    "leaf_hash",
    "line",
    "proof",
]


def statement_proof_csv_rows(proven: list) -> list[list]:
    """The trailing section of a statement CSV: a blank row, STATEMENT_PROOF_CSV_HEADERS, then
    one row per published month (`payee_proven_statements`): the signed root, the leaf, its
    canonical JSON line and the inclusion proof as JSON (README, "Verify your statement")."""
    if not proven:
        return []
    return [
        [],
        STATEMENT_PROOF_CSV_HEADERS,
        *(
            [
                root.period,
                root.root,
                item.leaf.index,
                item.leaf.leaf_hash,
                item.leaf.line,
                json.dumps(item.proof, sort_keys=True, separators=(",", ":")),
            ]
            for root, item in proven
        ),
    ]
