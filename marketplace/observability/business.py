"""Business gauges for `/metrics`, read from the database at scrape time and cached for
METRICS_CACHE_SECONDS, so a scraper (or several, one per web pod) costs a few cheap queries
every few seconds at most: counts grouped by an indexed status column, and the ledger's last
transaction by its unique sequence.

The ledger is never verified here (a full verification reads every entry): the gauge reports the
latest recorded verification, which the restore drill writes (`ledger_verification_record`).

The models of the upper apps (orders, payout lines, the ledger) are looked up by name through
the app registry, not imported: the exporter only reads their tables, and marketplace stays the
bottom layer (tests/foundation/test_layering.py)."""

from __future__ import annotations

import json
import time

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from marketplace.observability.store import redis_client

CACHE_KEY = "observability:business-gauges"
VERIFICATION_KEY = "observability:ledger-verification"


def ledger_verification_record(*, ok: bool, transactions: int, head: str, source: str) -> None:
    """Keep the outcome of a full ledger verification (e.g. of a restored copy) for the gauges."""
    record = {
        "ok": ok,
        "transactions": transactions,
        "head": head,
        "source": source,
        "at": time.time(),
    }
    redis_client().set(VERIFICATION_KEY, json.dumps(record))


def ledger_verification_latest() -> dict | None:
    raw = redis_client().get(VERIFICATION_KEY)
    return json.loads(raw) if raw else None


def _by_status(app_label: str, model: str, field: str = "status", **filters) -> dict[str, int]:
    Model = apps.get_model(app_label, model)
    counts = {value: 0 for value, _ in Model._meta.get_field(field).choices}
    rows = Model.objects.filter(**filters).order_by().values(field).annotate(n=Count("pk"))
    for row in rows:
        counts[row[field]] = row["n"]
    return counts


def _read() -> dict:
    FileUpload = apps.get_model("marketplace", "FileUpload")
    EventDelivery = apps.get_model("marketplace", "EventDelivery")
    StripeEvent = apps.get_model("marketplace", "StripeEvent")
    JournalTransaction = apps.get_model("payouts", "JournalTransaction")
    waiting = [s for s in StripeEvent.Status.values if s != StripeEvent.Status.PROCESSED]
    unprocessed = _by_status("marketplace", "StripeEvent", status__in=waiting)
    unprocessed.pop(StripeEvent.Status.PROCESSED, None)
    head = JournalTransaction.objects.order_by("-sequence").values("sequence", "created_at").first()
    return {
        "uploads_in_progress": FileUpload.objects.filter(state=FileUpload.State.UPLOADING).count(),
        "check_runs": _by_status("marketplace", "CheckRun"),
        "orders": _by_status("licensing", "Order"),
        "refund_requests": _by_status("licensing", "RefundRequest"),
        "payout_lines": _by_status("payouts", "PayoutLine"),
        "webhook_backlog": EventDelivery.objects.filter(
            status=EventDelivery.Status.PENDING
        ).count(),
        "stripe_unprocessed": unprocessed,
        "ledger_transactions": head["sequence"] if head else 0,
        "ledger_head_at": head["created_at"].timestamp() if head else None,
    }


def business_values() -> dict:
    """The gauges' values, from the cache when a scrape read them less than
    METRICS_CACHE_SECONDS ago."""
    values = cache.get(CACHE_KEY)
    if values is None:
        values = _read()
        cache.set(CACHE_KEY, values, settings.METRICS_CACHE_SECONDS)
    return values


def _labelled(name: str, doc: str, label: str, counts: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=(label,))
    for value, n in sorted(counts.items()):
        family.add_metric([value], n)
    return family


class BusinessCollector:
    def collect(self):
        v = business_values()
        yield GaugeMetricFamily(
            "dc_uploads_in_progress",
            "Upload sessions still uploading.",
            value=v["uploads_in_progress"],
        )
        yield _labelled(
            "dc_check_runs", "Ingestion check runs by outcome.", "status", v["check_runs"]
        )
        yield _labelled(
            "dc_orders", "Orders by status (paid, refunded, ...).", "status", v["orders"]
        )
        yield _labelled(
            "dc_refund_requests", "Staff refunds by status.", "status", v["refund_requests"]
        )
        yield _labelled("dc_payout_lines", "Payout lines by state.", "status", v["payout_lines"])
        yield GaugeMetricFamily(
            "dc_webhook_deliveries_backlog",
            "Outbound webhook deliveries waiting for an attempt.",
            value=v["webhook_backlog"],
        )
        yield _labelled(
            "dc_stripe_events_unprocessed",
            "Stored Stripe events not processed yet, by status.",
            "status",
            v["stripe_unprocessed"],
        )
        yield GaugeMetricFamily(
            "dc_ledger_transactions",
            "Sequence number of the ledger's hash-chain head (0: empty ledger).",
            value=v["ledger_transactions"],
        )
        if v["ledger_head_at"] is not None:
            yield GaugeMetricFamily(
                "dc_ledger_head_age_seconds",
                "Seconds since the ledger's last transaction (the hash-chain head) was posted.",
                value=max(0.0, time.time() - v["ledger_head_at"]),
            )
        yield from _verification()


def _verification():
    record = ledger_verification_latest()
    if record is None:
        return
    yield GaugeMetricFamily(
        "dc_ledger_verification_ok",
        "1 when the latest recorded full ledger verification (restore drill) passed, else 0.",
        value=1 if record["ok"] else 0,
    )
    yield GaugeMetricFamily(
        "dc_ledger_verification_timestamp_seconds",
        "Unix time of the latest recorded full ledger verification.",
        value=record["at"],
    )
