"""Refunds made at Stripe (as finance staff do in Stripe's dashboard), not through our API: the
emulator's own signed webhooks reach our live server, and each order, grant, earnings figure and
ledger entry follows within seconds (polled with a deadline)."""

import time
import uuid

import pytest
import requests
from celery._state import _set_task_join_will_block
from django.conf import settings

from contributors.models import Payee
from licensing.models import Grant, Order
from marketplace.models import StripeEvent
from marketplace.payments import stripe_client
from payouts.models import MICRO_PER_CENT, JournalTransaction
from payouts.services import currency_totals, payee_balances
from tests.licensing.conftest import accept_terms, publish

M = MICRO_PER_CENT
PRICE = 2000
TOTAL = PRICE + 100  # base + 5 % platform fee


def wait_for(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def _deliveries_settle(timeout: float = 15.0) -> None:
    """Wait for the deliveries still on their way (the emulator sends each event a second
    after it happened) to be received and processed: no event in progress, none new for 1.5 s."""
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        busy = StripeEvent.objects.filter(
            status__in=[StripeEvent.Status.PENDING, StripeEvent.Status.PROCESSING]
        ).exists()
        count = StripeEvent.objects.count()
        if not busy and count == seen:
            return
        seen = count
        time.sleep(1.5)


@pytest.fixture
def webhooks_to_live_server(live_server, stripe_emulator_url):
    name = f"refunds-{uuid.uuid4().hex[:8]}"
    requests.delete(f"{stripe_emulator_url}/_emulator/webhooks", timeout=10).raise_for_status()
    requests.post(
        f"{stripe_emulator_url}/_config/webhooks/{name}",
        data={
            "url": f"{live_server.url}/webhooks/stripe",
            "secret": settings.STRIPE_WEBHOOK_SECRET,
        },
        timeout=10,
    ).raise_for_status()
    yield live_server
    requests.delete(f"{stripe_emulator_url}/_emulator/webhooks/{name}", timeout=10)
    _deliveries_settle()
    # Eager tasks run in the live server's request threads, several at once here (each refund
    # sends three events together); Celery's "join will block" flag they save and restore is
    # process-global, so interleaved threads can leave it set, and a later test's
    # `result.get()` would refuse to run. Put it back as it is outside any task.
    _set_task_join_will_block(False)


def buy(live_server, buyer, dataset) -> Order:
    accept_terms(buyer, dataset)
    order = requests.post(
        f"{live_server.url}/api/orders",
        json={"datasetId": dataset.public_id},
        headers={"Authorization": f"Bearer {buyer.secret}", "Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    ).json()
    client = stripe_client()
    client.payment_intents.update(
        order["paymentIntentId"], params={"payment_method": "pm_card_visa"}
    )
    assert client.payment_intents.confirm(order["paymentIntentId"]).status == "succeeded"
    wait_for(
        lambda: Order.objects.filter(public_id=order["id"], status="paid").exists(),
        "the payment's webhook paid the order",
    )
    return Order.objects.get(public_id=order["id"])


def refunds_posted(order: Order) -> int:
    sale = JournalTransaction.objects.get(idempotency_key=f"sale:{order.public_id}")
    return JournalTransaction.objects.filter(kind="refund", related_transaction=sale).count()


def test_refunds_made_at_stripe_reach_orders_grants_earnings_and_ledger(
    webhooks_to_live_server, provider, buyer
):
    live_server = webhooks_to_live_server
    full = publish(provider, "Refunded in full", isPaid=True, basePriceCents=PRICE)
    parts = publish(provider, "Refunded in parts", isPaid=True, basePriceCents=PRICE)
    first, second = buy(live_server, buyer, full), buy(live_server, buyer, parts)
    payee = Payee.objects.get(organization=provider.org)
    assert payee_balances(payee_id=payee.pk)["usd"].pending == 2 * PRICE * M

    client = stripe_client()
    client.refunds.create(params={"payment_intent": first.payment_intent_id})
    client.refunds.create(params={"payment_intent": second.payment_intent_id, "amount": 1050})

    def state(order):
        order.refresh_from_db()
        return order.status, order.refunded_cents

    wait_for(lambda: state(first) == ("refunded", TOTAL), "the full refund reached the order")
    wait_for(lambda: state(second) == ("partially_refunded", 1050), "the partial refund reached")
    assert Grant.objects.get(order_ref=first.public_id).status == "revoked"
    assert Grant.objects.get(order_ref=second.public_id).status == "active"
    # Half of the second order refunded: half of its base price is taken back from the share.
    assert payee_balances(payee_id=payee.pk)["usd"].pending == PRICE // 2 * M
    assert refunds_posted(first) == 1 and refunds_posted(second) == 1

    client.refunds.create(params={"payment_intent": second.payment_intent_id})  # the rest
    wait_for(lambda: state(second) == ("refunded", TOTAL), "the rest reached the order")
    wait_for(
        lambda: Grant.objects.get(order_ref=second.public_id).status == "revoked",
        "the grant was revoked",
    )
    assert payee_balances(payee_id=payee.pk)["usd"].pending == 0
    assert refunds_posted(second) == 2
    # Each refund's three events (refund.created, charge.refunded, refund.updated) posted it
    # once.
    assert JournalTransaction.objects.filter(kind="refund").count() == 3
    assert all(total == 0 for total in currency_totals().values())
