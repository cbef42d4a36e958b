"""Orders and payments against the Stripe emulator; webhooks through the real receiver."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.test import TestCase

from licensing.models import Grant, Order
from licensing.services.orders import _payment_intent_attach
from marketplace.models import AuditEvent
from marketplace.payments import stripe_client
from payouts.models import JournalTransaction
from payouts.services import currency_totals
from tests.assertions import assert_error
from tests.licensing.conftest import accept_terms, publish
from tests.webhooks import stripe_event, stripe_signature, webhook_post

PRICE = 2500


def signed_event(event_type: str, obj_id: str) -> tuple[bytes, str]:
    payload = stripe_event(event_type, id=obj_id, object="x")
    return payload, stripe_signature(payload)


def deliver_committed(event_type: str, obj_id: str, *, times: int = 1):
    """Deliver as Stripe would (the same event id on replays), running after-commit work."""
    payload, signature = signed_event(event_type, obj_id)
    for _ in range(times):
        with TestCase.captureOnCommitCallbacks(execute=True):
            assert webhook_post(payload, signature).status_code == 200


def pay(order: dict) -> str:
    """What Stripe.js does in the browser: attach a test card and confirm; returns the charge id."""
    client = stripe_client()
    client.payment_intents.update(
        order["paymentIntentId"], params={"payment_method": "pm_card_visa"}
    )
    intent = client.payment_intents.confirm(order["paymentIntentId"])
    assert intent.status == "succeeded"
    return intent.charges.data[0].id


@pytest.fixture
def paid_dataset(provider):
    return publish(
        provider, "Swahili conversations", isPaid=True, basePriceCents=PRICE, currency="usd"
    )


def order_for(buyer, dataset, key=None):
    accept_terms(buyer, dataset)
    response = buyer.client.post(
        "/api/orders",
        {"datasetId": dataset.public_id},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex,
    )
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.django_db
def test_order_pay_webhook_grant_and_download(buyer, paid_dataset):
    assert_error(
        buyer.client.post(f"/api/datasets/{paid_dataset.public_id}/download"), 403
    )  # terms first
    order = order_for(buyer, paid_dataset)
    assert order["status"] == "pending"
    assert order["totalPriceCents"] == PRICE + 125 and order["platformFeeCents"] == 125
    assert order["clientSecret"] and order["paymentIntentId"]
    assert_error(
        buyer.client.post(f"/api/datasets/{paid_dataset.public_id}/download"),
        402,
        "payment_required",
    )

    pay(order)
    deliver_committed("payment_intent.succeeded", order["paymentIntentId"], times=5)
    got = buyer.client.get(f"/api/orders/{order['id']}").json()
    assert got["status"] == "paid"
    assert (
        JournalTransaction.objects.filter(
            kind="sale", idempotency_key=f"sale:{order['id']}"
        ).count()
        == 1
    )
    assert Grant.objects.filter(order_ref=order["id"], status="active").count() == 1
    # Stripe's fee on the charge (2.9 % + 30 c on the emulator), posted once, from its balance
    # transaction, carried by the platform.
    fee = JournalTransaction.objects.get(kind="processor_fee")
    assert fee.idempotency_key.startswith("processor-fee:txn_")
    assert (
        sum(e.amount for e in fee.entries.all() if e.amount > 0)
        == (2625 * 290 + 5000) // 10000 * 10_000 + 30 * 10_000
    )
    download = buyer.client.post(f"/api/datasets/{paid_dataset.public_id}/download")
    assert download.status_code in (200, 201), download.json()
    assert download.json()["checksum"] == paid_dataset.latest_version.sha256
    assert all(v == 0 for v in currency_totals().values())


@pytest.mark.django_db
def test_a_forged_payload_does_not_pay_an_unpaid_order(buyer, paid_dataset):
    order = order_for(buyer, paid_dataset)
    # The event says the intent succeeded; Stripe (re-fetched) says it is unpaid.
    deliver_committed("payment_intent.succeeded", order["paymentIntentId"])
    assert Order.objects.get(public_id=order["id"]).status == "pending"
    assert not Grant.objects.filter(order_ref=order["id"]).exists()


@pytest.mark.django_db
def test_partial_then_full_refund_revokes_the_grant(buyer, paid_dataset):
    order = order_for(buyer, paid_dataset)
    charge = pay(order)
    deliver_committed("payment_intent.succeeded", order["paymentIntentId"])
    client = stripe_client()
    client.refunds.create(params={"payment_intent": order["paymentIntentId"], "amount": 1000})
    deliver_committed("charge.refunded", charge, times=2)
    o = Order.objects.get(public_id=order["id"])
    assert o.status == "partially_refunded" and o.refunded_cents == 1000
    assert Grant.objects.get(order_ref=order["id"]).status == "active"
    # The rest (the emulator does not cap a refund at what remains, as Stripe would).
    client.refunds.create(
        params={"payment_intent": order["paymentIntentId"], "amount": o.total_price_cents - 1000}
    )
    deliver_committed("charge.refunded", charge)
    o.refresh_from_db()
    assert o.status == "refunded" and o.refunded_cents == o.total_price_cents
    assert Grant.objects.get(order_ref=order["id"]).status == "revoked"
    assert JournalTransaction.objects.filter(kind="refund").count() == 2
    assert all(v == 0 for v in currency_totals().values())


@pytest.mark.django_db
def test_events_in_any_order_reach_the_same_state(buyer, paid_dataset):
    order = order_for(buyer, paid_dataset)
    charge = pay(order)
    stripe_client().refunds.create(params={"payment_intent": order["paymentIntentId"]})
    # The refund's event arrives before the payment's.
    deliver_committed("charge.refunded", charge)
    deliver_committed("payment_intent.succeeded", order["paymentIntentId"])
    o = Order.objects.get(public_id=order["id"])
    assert o.status == "refunded"
    assert JournalTransaction.objects.filter(kind="sale").count() == 1
    assert JournalTransaction.objects.filter(kind="refund").count() == 1
    assert Grant.objects.get(order_ref=order["id"]).status == "revoked"


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_make_one_sale_and_one_grant(buyer, paid_dataset):
    order = order_for(buyer, paid_dataset)
    pay(order)
    payload, signature = signed_event("payment_intent.succeeded", order["paymentIntentId"])
    payload2, signature2 = signed_event("payment_intent.succeeded", order["paymentIntentId"])
    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(
            pool.map(
                lambda p: webhook_post(*p).status_code,
                [(payload, signature), (payload2, signature2)] * 2,
            )
        )
    assert codes == [200] * 4
    assert JournalTransaction.objects.filter(kind="sale").count() == 1
    assert Grant.objects.filter(order_ref=order["id"]).count() == 1
    assert Order.objects.get(public_id=order["id"]).status == "paid"


@pytest.mark.django_db
def test_idempotency_key(buyer, paid_dataset, provider):
    first = order_for(buyer, paid_dataset, key="k-1")
    again = buyer.client.post(
        "/api/orders",
        {"datasetId": paid_dataset.public_id},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    ).json()
    assert again["id"] == first["id"] and again["paymentIntentId"] == first["paymentIntentId"]
    assert Order.objects.count() == 1
    other = publish(
        provider, "Another paid corpus", isPaid=True, basePriceCents=900, currency="usd"
    )
    assert_error(
        buyer.client.post(
            "/api/orders", {"datasetId": other.public_id}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        ),
        422,
        "idempotency_key_reused",
    )
    assert_error(
        buyer.client.post("/api/orders", {"datasetId": paid_dataset.public_id}, format="json"),
        422,
        "idempotency_key_required",
    )


@pytest.mark.django_db
def test_orders_are_private_and_free_or_own_datasets_refused(
    buyer, outsider, provider, paid_dataset
):
    order = order_for(buyer, paid_dataset)
    assert_error(outsider.client.get(f"/api/orders/{order['id']}"), 404)
    assert outsider.client.get("/api/orders").json()["items"] == []
    assert [o["id"] for o in buyer.client.get("/api/orders").json()["items"]] == [order["id"]]
    free = publish(provider, "Free corpus")
    accept_terms(buyer, free)
    assert_error(
        buyer.client.post(
            "/api/orders", {"datasetId": free.public_id}, format="json", HTTP_IDEMPOTENCY_KEY="f"
        ),
        409,
        "dataset_free",
    )
    assert_error(
        provider.client.post(
            "/api/orders",
            {"datasetId": paid_dataset.public_id},
            format="json",
            HTTP_IDEMPOTENCY_KEY="o",
        ),
        409,
        "own_dataset",
    )
    assert_error(
        outsider.client.post(
            "/api/orders",
            {"datasetId": paid_dataset.public_id},
            format="json",
            HTTP_IDEMPOTENCY_KEY="t",
        ),
        403,
        "terms_not_accepted",
    )


@pytest.mark.django_db
def test_dispute_is_flagged_for_staff_in_the_admin(buyer, paid_dataset, client, reviewer):
    order = order_for(buyer, paid_dataset)
    charge = pay(order)
    deliver_committed("payment_intent.succeeded", order["paymentIntentId"])
    # Opened at the emulator (the handler reads the dispute from Stripe, not the payload).
    dispute = requests.post(
        f"{settings.STRIPE_API_BASE}/_emulator/charges/{charge}/dispute",
        data={"reason": "fraudulent"},
        timeout=10,
    ).json()["id"]
    deliver_committed("charge.dispute.created", dispute)
    o = Order.objects.get(public_id=order["id"])
    assert o.disputed_at is not None and o.dispute_reason == "fraudulent"
    assert buyer.client.get(f"/api/orders/{order['id']}").json()["disputed"] is True
    reviewer.is_superuser = True
    reviewer.save()
    client.force_login(reviewer)
    page = client.get("/admin/licensing/order/?disputed=yes")
    assert page.status_code == 200 and order["id"] in page.content.decode()


@pytest.mark.django_db
def test_a_second_order_for_the_same_dataset_returns_the_open_one(buyer, paid_dataset):
    """Two requests with different Idempotency-Keys (a double click, two tabs) make one order
    and one PaymentIntent: one purchase is never charged twice."""
    first = order_for(buyer, paid_dataset, key="tab-1")
    second = order_for(buyer, paid_dataset, key="tab-2")
    assert second["id"] == first["id"]
    assert second["paymentIntentId"] == first["paymentIntentId"]
    assert Order.objects.filter(dataset=paid_dataset).count() == 1
    pay(first)
    deliver_committed("payment_intent.succeeded", first["paymentIntentId"])
    # Paid: a new order is refused, the dataset is licensed.
    response = buyer.client.post(
        "/api/orders",
        {"datasetId": paid_dataset.public_id},
        format="json",
        HTTP_IDEMPOTENCY_KEY="tab-3",
    )
    assert_error(response, 409, "already_licensed")


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_with_different_keys_make_one(buyer, paid_dataset):
    accept_terms(buyer, paid_dataset)

    def post(n):
        try:
            return buyer.client.post(
                "/api/orders",
                {"datasetId": paid_dataset.public_id},
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"race-{n}",
            ).json()["id"]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = set(pool.map(post, range(6)))
    assert len(ids) == 1
    assert Order.objects.filter(dataset=paid_dataset).count() == 1


@pytest.mark.django_db
def test_a_payment_for_a_dataset_already_held_is_refunded_automatically(buyer, paid_dataset):
    """An order paid after the organisation got the dataset through another (rows from before
    the one-open-order rule, or a payment arriving late): the money comes in and goes back; the
    ledger shows both, the organisation keeps one grant."""
    first = order_for(buyer, paid_dataset, key="a")
    pay(first)
    deliver_committed("payment_intent.succeeded", first["paymentIntentId"])
    # A second, separately paid order of the same dataset (as the unguarded service made it).
    late = Order.objects.create(
        organization=buyer.org,
        user=buyer.user,
        dataset=paid_dataset,
        dataset_version=paid_dataset.latest_version,
        terms_hash=Order.objects.get(public_id=first["id"]).terms_hash,
        base_price_cents=PRICE,
        platform_fee_cents=Order.objects.get(public_id=first["id"]).platform_fee_cents,
        total_price_cents=Order.objects.get(public_id=first["id"]).total_price_cents,
        currency="usd",
        idempotency_key="legacy-b",
        request_fingerprint="x",
    )
    _payment_intent_attach(late)
    late.refresh_from_db()
    pay({"paymentIntentId": late.payment_intent_id})
    deliver_committed("payment_intent.succeeded", late.payment_intent_id)
    late.refresh_from_db()
    assert (late.status, late.refunded_cents) == ("refunded", late.total_price_cents)
    assert Grant.objects.filter(order_ref=late.public_id).count() == 0
    assert Grant.objects.filter(organization=buyer.org, status="active").count() == 1
    kinds = list(
        JournalTransaction.objects.filter(idempotency_key__endswith=late.public_id).values_list(
            "kind", flat=True
        )
    )
    assert "sale" in kinds
    assert JournalTransaction.objects.filter(kind="refund").count() == 1
    assert AuditEvent.objects.filter(action="order.duplicate_payment").count() == 1
    assert all(v == 0 for v in currency_totals().values())
