"""Refunds started by finance staff (`order_refund_request`), against the Stripe emulator: the
Stripe refund carries our row's idempotency key, the order follows what Stripe says."""

import pytest

from licensing.models import Grant, Order, RefundRequest
from licensing.services.refunds import order_refund_request
from marketplace.models import AuditEvent
from marketplace.payments import stripe_client
from marketplace.services.errors import Invalid
from payouts.models import JournalTransaction
from tests.licensing.test_orders import deliver_committed, order_for, pay
from tests.payouts.test_disputes import PRICE

pytestmark = pytest.mark.django_db
TOTAL = PRICE + 125


@pytest.fixture
def paid_order(buyer, provider):
    from tests.licensing.conftest import publish

    dataset = publish(provider, "Refundable corpus", isPaid=True, basePriceCents=PRICE)
    order = order_for(buyer, dataset)
    pay(order)
    deliver_committed("payment_intent.succeeded", order["paymentIntentId"])
    return Order.objects.get(public_id=order["id"])


def stripe_refunds(order: Order) -> list:
    return stripe_client().refunds.list(params={"payment_intent": order.payment_intent_id}).data


def test_full_refund(paid_order, staff):
    request = order_refund_request(
        user=staff, order=paid_order, amount_cents=None, reason="Buyer charged by mistake"
    )
    assert request.amount_cents == TOTAL and request.status == "succeeded"
    assert request.stripe_refund_id.startswith("re_") and request.requested_by == staff
    [refund] = stripe_refunds(paid_order)
    assert refund.id == request.stripe_refund_id and refund.amount == TOTAL
    paid_order.refresh_from_db()
    assert paid_order.status == "refunded" and paid_order.refunded_cents == TOTAL
    assert Grant.objects.get(order_ref=paid_order.public_id).status == "revoked"
    assert JournalTransaction.objects.filter(idempotency_key=f"refund:{refund.id}").count() == 1
    audit = AuditEvent.objects.get(action="order.refund_request")
    assert (
        audit.data["amount_cents"] == TOTAL and audit.data["reason"] == "Buyer charged by mistake"
    )


def test_partial_then_the_rest_and_an_over_refund_is_rejected(paid_order, staff):
    order_refund_request(user=staff, order=paid_order, amount_cents=1000, reason="Partial file")
    paid_order.refresh_from_db()
    assert paid_order.status == "partially_refunded" and paid_order.refunded_cents == 1000
    assert Grant.objects.get(order_ref=paid_order.public_id).status == "active"
    with pytest.raises(Invalid) as over:
        order_refund_request(
            user=staff, order=paid_order, amount_cents=TOTAL - 999, reason="Too much"
        )
    assert over.value.code == "refund_exceeds_order" and "not refunded yet" in over.value.message
    rest = order_refund_request(user=staff, order=paid_order, amount_cents=None, reason="The rest")
    assert rest.amount_cents == TOTAL - 1000
    paid_order.refresh_from_db()
    assert paid_order.status == "refunded"
    assert len(stripe_refunds(paid_order)) == 2
    with pytest.raises(Invalid) as nothing_left:
        order_refund_request(user=staff, order=paid_order, amount_cents=1, reason="Once more")
    assert nothing_left.value.code == "order_not_refundable"
    assert RefundRequest.objects.filter(order=paid_order).count() == 2  # rejected: no row


@pytest.mark.parametrize(
    ("amount", "reason", "code"),
    [
        (0, "why", "refund_amount"),
        (-5, "why", "refund_amount"),
        (100, "  ", "refund_reason_required"),
    ],
)
def test_bad_input_is_rejected_and_writes_nothing(paid_order, staff, amount, reason, code):
    with pytest.raises(Invalid) as bad:
        order_refund_request(user=staff, order=paid_order, amount_cents=amount, reason=reason)
    assert bad.value.code == code
    assert not RefundRequest.objects.exists() and not stripe_refunds(paid_order)


def test_an_unpaid_order_cannot_be_refunded(buyer, provider, staff):
    from tests.licensing.conftest import publish

    dataset = publish(provider, "Unpaid corpus", isPaid=True, basePriceCents=PRICE)
    order = Order.objects.get(public_id=order_for(buyer, dataset)["id"])
    with pytest.raises(Invalid) as refused:
        order_refund_request(user=staff, order=order, amount_cents=None, reason="Unpaid")
    assert refused.value.code == "order_not_refundable"


def test_a_double_submit_makes_one_stripe_refund(paid_order, staff):
    first = order_refund_request(user=staff, order=paid_order, amount_cents=500, reason="Dup")
    second = order_refund_request(user=staff, order=paid_order, amount_cents=500, reason="Dup")
    assert first.pk == second.pk and first.stripe_refund_id == second.stripe_refund_id
    assert len(stripe_refunds(paid_order)) == 1
    full = order_refund_request(user=staff, order=paid_order, amount_cents=None, reason="All")
    again = order_refund_request(user=staff, order=paid_order, amount_cents=None, reason="All")
    assert full.pk == again.pk
    assert len(stripe_refunds(paid_order)) == 2
    paid_order.refresh_from_db()
    assert paid_order.status == "refunded" and paid_order.refunded_cents == TOTAL


def test_a_retry_after_a_lost_answer_reuses_the_idempotency_key(paid_order, staff):
    """The row is stored before the Stripe call: a request whose answer never came (no Stripe
    id recorded) is sent again with the same key, and Stripe answers with the same refund."""
    request = order_refund_request(user=staff, order=paid_order, amount_cents=700, reason="Lost")
    RefundRequest.objects.filter(pk=request.pk).update(stripe_refund_id="", status="requested")
    retried = order_refund_request(user=staff, order=paid_order, amount_cents=700, reason="Lost")
    assert retried.stripe_refund_id == request.stripe_refund_id
    assert len(stripe_refunds(paid_order)) == 1
