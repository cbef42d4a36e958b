"""Refunds started by finance staff from an order's admin page (full or partial, with a reason)
through the refund service, against the Stripe emulator; and the open disputes and staff
refunds on the finance overview. Staff are members of the staff groups, not superusers."""

import pytest
from django.urls import reverse

from licensing.models import Order, RefundRequest
from marketplace.models import AuditEvent
from marketplace.payments import stripe_client
from payouts.models import JournalTransaction
from payouts.services import currency_totals
from tests.factories import make_user
from tests.licensing.test_orders import (  # noqa: F401 - paid_dataset is a fixture
    deliver_committed,
    order_for,
    paid_dataset,
    pay,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance(client):
    user = make_user(is_staff=True, groups=["finance"])
    client.force_login(user)
    return user


@pytest.fixture
def paid_order(buyer, paid_dataset) -> Order:  # noqa: F811
    order = order_for(buyer, paid_dataset)
    pay(order)
    deliver_committed("payment_intent.succeeded", order["paymentIntentId"])
    paid = Order.objects.get(public_id=order["id"])
    assert paid.status == "paid"
    return paid


def refund_url(order: Order) -> str:
    return reverse("admin:licensing_order_refund", args=[order.pk])


def stripe_refunds_of(order: Order) -> list:
    listing = stripe_client().refunds.list(params={"payment_intent": order.payment_intent_id})
    return list(listing.auto_paging_iter())


def test_finance_refunds_part_then_the_rest_from_the_orders_page(client, finance, paid_order):
    page = client.get(reverse("admin:licensing_order_change", args=[paid_order.pk]))
    assert page.status_code == 200 and refund_url(paid_order) in page.content.decode()
    form = client.get(refund_url(paid_order)).content.decode()
    assert 'name="reason"' in form and 'name="amount_cents"' in form

    response = client.post(
        refund_url(paid_order),
        {"kind": "partial", "amount_cents": "1000", "reason": "Buyer got the wrong split"},
    )
    assert response.status_code == 302
    paid_order.refresh_from_db()
    assert paid_order.status == "partially_refunded" and paid_order.refunded_cents == 1000
    (request,) = RefundRequest.objects.filter(order=paid_order)
    assert (request.amount_cents, request.requested_by_id) == (1000, finance.pk)
    assert [r.id for r in stripe_refunds_of(paid_order)] == [request.stripe_refund_id]
    assert AuditEvent.objects.filter(action="order.refund_request", actor=finance).exists()

    response = client.post(refund_url(paid_order), {"kind": "full", "reason": "Duplicate purchase"})
    assert response.status_code == 302
    paid_order.refresh_from_db()
    assert paid_order.status == "refunded"
    assert paid_order.refunded_cents == paid_order.total_price_cents
    assert sum(r.amount for r in stripe_refunds_of(paid_order)) == paid_order.total_price_cents
    assert JournalTransaction.objects.filter(kind="refund").count() == 2
    assert all(total == 0 for total in currency_totals().values())
    page = client.get(reverse("admin:licensing_order_change", args=[paid_order.pk]))
    assert "Duplicate purchase" in page.content.decode()


def test_bad_refunds_are_form_errors_and_change_nothing(client, finance, paid_order):
    too_much = paid_order.total_price_cents + 1
    cases = [
        ({"kind": "partial", "amount_cents": "500", "reason": ""}, "This field is required."),
        ({"kind": "partial", "reason": "No amount"}, "Enter the amount to refund, in cents."),
        ({"kind": "partial", "amount_cents": "0", "reason": "Zero"}, "greater than or equal to 1"),
        (
            {"kind": "partial", "amount_cents": str(too_much), "reason": "Too much"},
            f"A refund of {too_much} cents exceeds",
        ),
    ]
    for data, message in cases:
        response = client.post(refund_url(paid_order), data)
        html = response.content.decode()
        assert response.status_code == 400, data
        assert message in html, (data, html)
        assert data["reason"] in html  # what was typed is kept
    paid_order.refresh_from_db()
    assert paid_order.status == "paid" and paid_order.refunded_cents == 0
    assert stripe_refunds_of(paid_order) == []
    assert not RefundRequest.objects.exists()


def test_only_finance_staff_can_refund(client, paid_order):
    client.force_login(make_user(is_staff=True, groups=["support"]))
    assert client.get(refund_url(paid_order)).status_code == 403
    response = client.post(refund_url(paid_order), {"kind": "full", "reason": "Not mine to do"})
    assert response.status_code == 403
    paid_order.refresh_from_db()
    assert paid_order.status == "paid" and stripe_refunds_of(paid_order) == []


def test_the_finance_overview_lists_open_disputes_and_staff_refunds(client, finance, paid_order):
    client.post(
        refund_url(paid_order), {"kind": "partial", "amount_cents": "700", "reason": "Goodwill"}
    )
    Order.objects.filter(pk=paid_order.pk).update(
        dispute_status="open", dispute_id="dp_overview_1", dispute_reason="fraudulent"
    )
    html = client.get(reverse("admin:payouts_finance_overview")).content.decode()
    assert "Open disputes" in html and "dp_overview_1" in html and "fraudulent" in html
    assert "Goodwill" in html and paid_order.public_id in html
    # The refund reached the ledger, and the overview's refunds of the last days list it.
    refund = RefundRequest.objects.get(order=paid_order)
    assert refund.stripe_refund_id and refund.stripe_refund_id in html
