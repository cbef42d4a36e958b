"""Reconciliation of the ledger against Stripe.

Rules checked (each failure is one problem row of the report):
* every succeeded Stripe charge matches exactly one `sale` transaction whose
  external_reference is the charge id or its PaymentIntent id;
* every succeeded Stripe refund matches exactly one `refund` transaction (external_reference =
  refund id), every Stripe transfer exactly one `payout` transaction (= transfer id);
* the other way round, every sale, refund and payout transaction matches a Stripe object (a
  sale without a reference cannot be reconciled and is reported as such);
* clearing: for each matched charge, the ledger's PAYMENT_CLEARING movement of the sale, its
  refunds and a lost dispute equals what Stripe kept (charge amount - refunded amount - the
  amount of a lost dispute); per currency,
  PAYOUT_IN_TRANSIT equals the money of payout lines not yet transferred (pending / sending).
  Reported when not zero.
* a matched transfer has the amount, currency and destination of its payout line.

Stripe objects are listed through `stripe_client()` (auto-pagination); no database transaction
is open during the listing. The report is stored (`ReconciliationReport`).

Repairs (what Stripe has and the ledger lacks, applied through the webhook handlers,
incrementally) live in `payouts.services.repairs`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from marketplace.payments import stripe_client
from payouts.models import (
    MICRO_PER_CENT,
    JournalTransaction,
    LedgerAccount,
    PayoutLine,
    PayoutRun,
    ReconciliationReport,
)

logger = logging.getLogger(__name__)
Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind


@dataclass
class _StripeSide:
    charges: list = field(default_factory=list)
    refunds: list = field(default_factory=list)
    transfers: list = field(default_factory=list)
    disputes: list = field(default_factory=list)


def _list_all(resource, since: int | None) -> list:
    listing = resource.list(params={"limit": 100})
    return [
        o for o in listing.auto_paging_iter() if since is None or (o.get("created") or 0) >= since
    ]


def stripe_side_fetch(*, since: int | None = None) -> _StripeSide:
    """Every charge, refund and transfer in Stripe (created at or after `since`, a Unix time)."""
    client = stripe_client()
    return _StripeSide(
        charges=[c for c in _list_all(client.charges, since) if c.get("status") == "succeeded"],
        refunds=[r for r in _list_all(client.refunds, since) if r.get("status") == "succeeded"],
        transfers=_list_all(client.transfers, since),
        disputes=_list_all(client.disputes, since),
    )


def _ledger_index(since: int | None) -> dict[str, dict[str, list[int]]]:
    """{kind: {external_reference: [transaction ids]}} of sales, refunds and payouts (posted at
    or after `since`, a Unix time, if given)."""
    index: dict[str, dict[str, list[int]]] = {
        TxKind.SALE: defaultdict(list),
        TxKind.REFUND: defaultdict(list),
        TxKind.PAYOUT: defaultdict(list),
    }
    rows = JournalTransaction.objects.filter(kind__in=list(index))
    if since is not None:
        rows = rows.filter(created_at__gte=datetime.fromtimestamp(since, tz=UTC))
    rows = rows.values_list("kind", "external_reference", "pk")
    for kind, reference, pk in rows.iterator(chunk_size=10_000):
        index[kind][reference].append(pk)
    return index


def _clearing_of_sales(sale_ids: list[int]) -> dict[int, int]:
    """{sale id: PAYMENT_CLEARING movement of the sale and its refunds}, micro-units."""
    if not sale_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT coalesce(t.related_transaction_id, t.id), sum(e.amount)
            FROM payouts_journaltransaction t
            JOIN payouts_entry e ON e.transaction_id = t.id
            JOIN payouts_ledgeraccount a ON a.id = e.account_id AND a.kind = %s
            WHERE t.id = ANY(%s::bigint[])
               OR (t.related_transaction_id = ANY(%s::bigint[])
                   AND t.kind IN ('refund', 'dispute_loss'))
            GROUP BY 1
            """,
            [Kind.PAYMENT_CLEARING, sale_ids, sale_ids],
        )
        return {sale_id: int(total) for sale_id, total in cursor.fetchall()}


def _in_transit_problems() -> list[dict]:
    problems = []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.currency, -coalesce(sum(e.amount), 0)
            FROM payouts_ledgeraccount a LEFT JOIN payouts_entry e ON e.account_id = a.id
            WHERE a.kind = %s GROUP BY a.currency
            """,
            [Kind.PAYOUT_IN_TRANSIT],
        )
        balances = {currency: int(total) for currency, total in cursor.fetchall()}
    unfinished = dict(
        PayoutLine.objects.filter(
            # Unfinished lines are only in open runs: the filter reads only those runs' lines.
            run__status=PayoutRun.Status.OPEN,
            status__in=[PayoutLine.Status.PENDING, PayoutLine.Status.SENDING],
        )
        .values_list("currency")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    )
    for currency in sorted(set(balances) | set(unfinished)):
        expected = unfinished.get(currency, 0) * MICRO_PER_CENT
        difference = balances.get(currency, 0) - expected
        if difference:
            problems.append(
                {
                    "problem": "clearing_not_zero",
                    "object": "account",
                    "id": f"{Kind.PAYOUT_IN_TRANSIT} {currency}",
                    "detail": f"in transit minus untransferred payout lines = {difference} micro",
                }
            )
    return problems


def reconciliation_compute(
    *, stripe_side: _StripeSide, since: int | None = None
) -> tuple[dict, list[dict]]:
    """(counts, problems) of the ledger against the given Stripe objects. See module docstring."""
    index = _ledger_index(since)
    problems: list[dict] = []
    matched: set[int] = set()

    def match(kind: str, obj, references: list[str], what: str) -> int | None:
        found = sorted({pk for ref in references if ref for pk in index[kind].get(ref, [])})
        if len(found) == 1:
            matched.add(found[0])
            return found[0]
        problems.append(
            {
                "problem": "unmatched" if not found else "matched_more_than_once",
                "object": what,
                "id": obj.id,
                "detail": f"{len(found)} ledger {kind} transactions: {found[:10]}",
            }
        )
        return None

    refunded: dict[str, int] = defaultdict(int)
    for refund in stripe_side.refunds:
        match(TxKind.REFUND, refund, [refund.id], "stripe_refund")
        refunded[refund.get("charge") or ""] += refund.amount
    # A lost dispute took its amount back like a refund (dispute_loss posting); an open one is
    # held in the ledger, not taken out of clearing, until it is decided.
    for dispute in stripe_side.disputes:
        if dispute.get("status") == "lost":
            refunded[dispute.get("charge") or ""] += dispute.amount
    sale_of_charge: dict[int, object] = {}
    for charge in stripe_side.charges:
        intent = charge.get("payment_intent")
        intent_id = intent if isinstance(intent, str) or intent is None else intent.id
        sale_id = match(TxKind.SALE, charge, [charge.id, intent_id or ""], "stripe_charge")
        if sale_id is not None:
            sale_of_charge[sale_id] = charge
    lines = {
        line.transfer_id: line
        for line in PayoutLine.objects.filter(
            transfer_id__in=[t.id for t in stripe_side.transfers]
        ).only("transfer_id", "amount_cents", "currency", "destination")
    }
    for transfer in stripe_side.transfers:
        if match(TxKind.PAYOUT, transfer, [transfer.id], "stripe_transfer") is None:
            continue
        line = lines.get(transfer.id)
        actual = (transfer.amount, transfer.currency, transfer.destination)
        if line is None or actual != (line.amount_cents, line.currency, line.destination):
            problems.append(
                {
                    "problem": "transfer_differs",
                    "object": "stripe_transfer",
                    "id": transfer.id,
                    "detail": f"stripe {actual}, payout line "
                    f"{(line.amount_cents, line.currency, line.destination) if line else None}",
                }
            )

    clearing = _clearing_of_sales(list(sale_of_charge))
    for sale_id, charge in sale_of_charge.items():
        kept = (charge.amount - refunded.get(charge.id, 0)) * MICRO_PER_CENT
        difference = clearing.get(sale_id, 0) - kept
        if difference:
            problems.append(
                {
                    "problem": "clearing_not_zero",
                    "object": "stripe_charge",
                    "id": charge.id,
                    "detail": f"ledger clearing minus what Stripe kept = {difference} micro "
                    f"(sale transaction {sale_id})",
                }
            )
    problems.extend(_in_transit_problems())

    for kind, what in ((TxKind.SALE, "sale"), (TxKind.REFUND, "refund"), (TxKind.PAYOUT, "payout")):
        for reference, pks in index[kind].items():
            for pk in pks:
                if pk not in matched:
                    problems.append(
                        {
                            "problem": "unmatched",
                            "object": f"ledger_{what}",
                            "id": str(pk),
                            "detail": f"external_reference {reference!r} is not in Stripe"
                            if reference
                            else "no external_reference",
                        }
                    )
    counts = {
        "charges": len(stripe_side.charges),
        "refunds": len(stripe_side.refunds),
        "transfers": len(stripe_side.transfers),
        "matched": len(matched),
    }
    return counts, problems


def reconciliation_run(*, since: int | None = None) -> ReconciliationReport:
    """List Stripe's charges, refunds and transfers (no transaction open meanwhile), compare
    them with the ledger and store the report."""
    stripe_side = stripe_side_fetch(since=since)
    with transaction.atomic():
        counts, problems = reconciliation_compute(stripe_side=stripe_side, since=since)
        report = ReconciliationReport.objects.create(
            created_at=timezone.now(), ok=not problems, counts=counts, problems=problems
        )
    if problems:
        logger.warning("Reconciliation found %d problems (report %s)", len(problems), report.pk)
    return report
