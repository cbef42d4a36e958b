"""Reconciliation repairs: with no webhook endpoint registered at the emulator (a lost or
disabled webhook), refunds and disputes made at Stripe reach our ledger only through the
repair run, which applies them through the webhook handlers, incrementally."""

import pytest
import requests
from django.conf import settings

from licensing.models import Grant, Order
from marketplace.payments import stripe_client
from payouts.models import JournalTransaction, ReconciliationWatermark
from payouts.services import currency_totals, processor_fee_post
from payouts.services.repairs import reconciliation_repair
from payouts.tasks import reconcile_repair
from tests.licensing.conftest import publish
from tests.payouts.test_disputes import PRICE, dispute_close, dispute_open, sell

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_webhook_endpoint():
    """Nothing Stripe sends reaches us during these tests."""
    requests.delete(f"{settings.STRIPE_API_BASE}/_emulator/webhooks", timeout=10).raise_for_status()


@pytest.fixture
def sold(provider, buyer):
    dataset = publish(provider, "Repaired corpus", isPaid=True, basePriceCents=PRICE)
    return sell(buyer, dataset)


def problems_about(report, obj_id):
    return [p for p in report.problems if p["id"] == obj_id]


def test_a_refund_whose_webhook_was_lost_is_applied_by_the_repair(sold):
    order, _charge = sold
    refund = stripe_client().refunds.create(
        params={"payment_intent": order["paymentIntentId"], "amount": 1000}
    )
    o = Order.objects.get(public_id=order["id"])
    assert o.status == "paid"  # no event reached us
    report = reconcile_repair()  # the hourly task
    o.refresh_from_db()
    assert (o.status, o.refunded_cents) == ("partially_refunded", 1000)
    assert JournalTransaction.objects.filter(idempotency_key=f"refund:{refund.id}").count() == 1
    assert report["report"]
    again = reconciliation_repair()
    assert JournalTransaction.objects.filter(kind="refund").count() == 1  # idempotent
    assert not problems_about(again, refund.id)
    assert all(total == 0 for total in currency_totals().values())


def test_a_dispute_whose_webhooks_were_lost_is_applied_opened_then_lost(sold):
    order, charge = sold
    dispute = dispute_open(charge)
    reconciliation_repair()
    o = Order.objects.get(public_id=order["id"])
    assert (o.dispute_status, o.dispute_id) == ("open", dispute)
    assert JournalTransaction.objects.filter(idempotency_key=f"dispute-hold:{dispute}").exists()
    # Closed later: re-read by id from the ledger's open holds, whatever the watermark says.
    ReconciliationWatermark.objects.filter(stream="disputes").update(created_before=2**40)
    dispute_close(dispute, "lost")
    report = reconciliation_repair()
    o.refresh_from_db()
    assert o.dispute_status == "lost"
    assert Grant.objects.get(order_ref=order["id"]).status == "revoked"
    assert JournalTransaction.objects.filter(kind="dispute_loss").count() == 1
    assert report.counts["disputes_repaired"] == 1
    assert all(total == 0 for total in currency_totals().values())


def test_repairs_are_incremental_from_a_stored_watermark(sold):
    order, _charge = sold
    first = reconciliation_repair(overlap_seconds=0)
    marks = dict(ReconciliationWatermark.objects.values_list("stream", "created_before"))
    assert set(marks) == {"refunds", "disputes", "fees"}
    assert first.counts["fees_read"] >= 1  # the order's charge fee, at least
    # A watermark past every object: nothing is listed again.
    ReconciliationWatermark.objects.update(created_before=2**40)
    second = reconciliation_repair(overlap_seconds=0)
    assert second.counts["refunds_read"] == 0 and second.counts["fees_read"] == 0
    # ... so a refund older than the watermark waits for the full daily reconciliation, and
    # one made after it is read.
    ReconciliationWatermark.objects.update(created_before=marks["refunds"])
    refund = stripe_client().refunds.create(params={"payment_intent": order["paymentIntentId"]})
    third = reconciliation_repair(overlap_seconds=0)
    assert third.counts["refunds_repaired"] == 1
    assert JournalTransaction.objects.filter(idempotency_key=f"refund:{refund.id}").exists()
    assert ReconciliationWatermark.objects.get(stream="refunds").created_before >= refund.created


def test_processor_fees_are_compared_and_a_different_fee_is_reported(sold):
    order, charge = sold
    dispute = dispute_open(charge)
    txn = stripe_client().disputes.retrieve(dispute).balance_transactions[0]
    # The ledger holds another fee for the dispute's balance transaction than Stripe charged.
    processor_fee_post(
        balance_transaction_id=txn.id, fee_cents=999, currency="usd", order_ref=order["id"]
    )
    report = reconciliation_repair()
    differs = [p for p in problems_about(report, txn.id) if p["problem"] == "fee_differs"]
    assert differs and "1500" in differs[0]["detail"] and "999" in differs[0]["detail"]
    assert not report.ok
