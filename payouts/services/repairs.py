"""Reconciliation repairs: what exists at Stripe but not in our ledger (a lost or disabled
webhook) is applied through the same services as its webhook, so a lost event costs at most
one run's interval, never money.

Incremental: each stream (refunds, disputes, fees) keeps a watermark in the database
(`ReconciliationWatermark`, Stripe's `created` time up to which everything was read and
applied); a run lists only objects created since the watermark less an overlap, and advances it
when every object of the stream was applied. Disputes are closed long after they are created,
so every dispute the ledger holds open is also re-read by id on each run.

Repairs go through the Stripe handlers the apps registered (`marketplace.webhooks`), with the
Stripe object's id as the event would carry it: they re-fetch from Stripe and are idempotent by
Stripe's ids, exactly as for a delivered webhook. Processor fees are compared: every balance
transaction with a fee must match one `processor-fee:<txn id>` posting of the same amount; a
missing one is repaired through its charge's or dispute's handler, a different one reported.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from marketplace.payments import stripe_client
from marketplace.webhooks import stripe_handlers_for
from payouts.models import (
    MICRO_PER_CENT,
    Entry,
    JournalTransaction,
    LedgerAccount,
    ReconciliationReport,
    ReconciliationWatermark,
)

logger = logging.getLogger(__name__)
TxKind = JournalTransaction.Kind
# Objects created this many seconds before the watermark are read again (clock skew between
# Stripe's `created` and our run, objects created while a run was listing).
OVERLAP_SECONDS = 600
REFUND_EVENT = "refund.created"
DISPUTE_EVENT = "charge.dispute.updated"
PAYMENT_EVENT = "payment_intent.succeeded"


@dataclass
class _Run:
    counts: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    failed_streams: set = field(default_factory=set)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def problem(self, problem: str, what: str, obj_id: str, detail: str) -> None:
        self.problems.append({"problem": problem, "object": what, "id": obj_id, "detail": detail})


def _apply(run: _Run, stream: str, event_type: str, obj_id: str, what: str) -> bool:
    """Run the handlers registered for `event_type` on a Stripe object id, as a delivered event
    would. A failure is a problem of the report and keeps the stream's watermark."""
    handlers = stripe_handlers_for(event_type)
    if not handlers:
        run.problem("no_handler", what, obj_id, f"no handler registered for {event_type}")
        run.failed_streams.add(stream)
        return False
    event = SimpleNamespace(
        event_id=f"repair:{obj_id}", type=event_type, payload={"data": {"object": {"id": obj_id}}}
    )
    try:
        for handler in handlers:
            handler(event)
    except Exception as exc:  # noqa: BLE001 - reported, retried by the next run
        logger.exception("Repair of %s %s failed", what, obj_id)
        run.problem("repair_failed", what, obj_id, f"{type(exc).__name__}: {exc}"[:500])
        run.failed_streams.add(stream)
        return False
    return True


def _since(stream: str, overlap: int) -> int:
    row = ReconciliationWatermark.objects.filter(stream=stream).first()
    return max((row.created_before if row else 0) - overlap, 0)


def _listed(resource, since: int) -> list:
    params = {"limit": 100}
    if since:
        params["created"] = {"gte": since}
    return list(resource.list(params=params).auto_paging_iter())


def _posted(keys: list[str]) -> set[str]:
    return set(
        JournalTransaction.objects.filter(idempotency_key__in=keys).values_list(
            "idempotency_key", flat=True
        )
    )


def _repair_refunds(run: _Run, since: int) -> None:
    refunds = [
        r
        for r in _listed(stripe_client().refunds, since)
        if r.get("status") in ("succeeded", "pending")
    ]
    run.count("refunds_read", len(refunds))
    posted = _posted([f"refund:{r.id}" for r in refunds])
    for refund in refunds:
        if f"refund:{refund.id}" in posted:
            continue
        if _apply(run, "refunds", REFUND_EVENT, refund.id, "stripe_refund"):
            if _posted([f"refund:{refund.id}"]):
                run.count("refunds_repaired")
            else:
                run.problem(
                    "unmatched", "stripe_refund", refund.id, "not ours (no order has its charge)"
                )


def _dispute_keys(dispute_id: str) -> dict[str, str]:
    return {
        "open": f"dispute-hold:{dispute_id}",
        "won": f"dispute-release:{dispute_id}",
        "lost": f"dispute-loss:{dispute_id}",
    }


def _dispute_applied(dispute) -> bool:
    """Whether the ledger already holds what the dispute's status says."""
    keys = _dispute_keys(dispute.id)
    posted = _posted(list(keys.values()))
    status = dispute.get("status")
    if status == "lost":
        return keys["lost"] in posted
    if status in ("won", "warning_closed"):
        return keys["won"] in posted or keys["lost"] in posted
    return bool(posted)


def _repair_disputes(run: _Run, since: int) -> None:
    client = stripe_client()
    disputes = {d.id: d for d in _listed(client.disputes, since)}
    # Held open in our ledger: re-read by id, whenever they were created (closed later).
    closing = JournalTransaction.objects.filter(
        kind__in=[TxKind.DISPUTE_RELEASE, TxKind.DISPUTE_LOSS]
    ).values("external_reference")
    held = (
        JournalTransaction.objects.filter(kind=TxKind.DISPUTE_HOLD)
        .exclude(external_reference__in=closing)
        .values_list("external_reference", flat=True)
    )
    for dispute_id in held:
        if dispute_id not in disputes:
            disputes[dispute_id] = client.disputes.retrieve(dispute_id)
    run.count("disputes_read", len(disputes))
    for dispute in disputes.values():
        if _dispute_applied(dispute):
            continue
        if _apply(run, "disputes", DISPUTE_EVENT, dispute.id, "stripe_dispute"):
            if _dispute_applied(dispute):
                run.count("disputes_repaired")
            else:
                run.problem("unmatched", "stripe_dispute", dispute.id, "not ours (no paid order)")


def _posted_fees(txn_ids: list[str]) -> dict[str, int]:
    """{balance transaction id: fee posted, cents}."""
    keys = {f"processor-fee:{t}": t for t in txn_ids}
    rows = (
        Entry.objects.filter(
            transaction__idempotency_key__in=list(keys),
            account__kind=LedgerAccount.Kind.PROCESSOR_FEES,
        )
        .values_list("transaction__idempotency_key")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return {keys[key]: total // MICRO_PER_CENT for key, total in rows}


def _repair_fees(run: _Run, since: int) -> None:
    client = stripe_client()
    txns = [t for t in _listed(client.balance_transactions, since) if t.get("fee")]
    run.count("fees_read", len(txns))
    posted = _posted_fees([t.id for t in txns])
    for txn in txns:
        if txn.id in posted:
            if posted[txn.id] != txn.fee:
                run.problem(
                    "fee_differs",
                    "stripe_balance_transaction",
                    txn.id,
                    f"stripe fee {txn.fee} {txn.currency}, ledger {posted[txn.id]}",
                )
            continue
        source = txn.get("source") or ""
        if source.startswith("dp_"):
            applied = _apply(run, "fees", DISPUTE_EVENT, source, "stripe_balance_transaction")
        elif source.startswith("ch_"):
            intent = client.charges.retrieve(source).get("payment_intent")
            applied = bool(intent) and _apply(
                run, "fees", PAYMENT_EVENT, intent, "stripe_balance_transaction"
            )
        else:
            applied = False
        if applied and txn.id in _posted_fees([txn.id]):
            run.count("fees_repaired")
        else:
            run.problem(
                "unmatched",
                "stripe_balance_transaction",
                txn.id,
                f"fee {txn.fee} {txn.currency} of {source or '?'} not in the ledger",
            )


STREAMS = (("refunds", _repair_refunds), ("disputes", _repair_disputes), ("fees", _repair_fees))


def reconciliation_repair(*, overlap_seconds: int = OVERLAP_SECONDS) -> ReconciliationReport:
    """Read what Stripe has since each stream's watermark (no transaction open meanwhile),
    apply what the ledger lacks through the webhook handlers, compare the fees, advance the
    watermark of each stream that had no failure, and store the report (`counts` says what was
    read and repaired; `problems` what could not be). Idempotent; safe to run concurrently
    (every repair is idempotent by Stripe's id)."""
    run = _Run()
    upto = int(time.time())
    for stream, repair in STREAMS:
        try:
            repair(run, _since(stream, overlap_seconds))
        except Exception as exc:  # noqa: BLE001 - e.g. Stripe unreachable: next run retries
            logger.exception("Reconciliation repair of %s failed", stream)
            run.problem("stream_failed", stream, "", f"{type(exc).__name__}: {exc}"[:500])
            run.failed_streams.add(stream)
    with transaction.atomic():
        for stream, _ in STREAMS:
            if stream in run.failed_streams:
                continue
            watermark, _ = ReconciliationWatermark.objects.select_for_update().get_or_create(
                stream=stream
            )
            if upto > watermark.created_before:
                watermark.created_before = upto
                watermark.save(update_fields=["created_before", "updated_at"])
        report = ReconciliationReport.objects.create(
            created_at=timezone.now(),
            ok=not run.problems,
            counts={"kind": "repair", **run.counts},
            problems=run.problems,
        )
    if run.problems:
        logger.warning(
            "Reconciliation repair: %d problems (report %s)", len(run.problems), report.pk
        )
    return report
