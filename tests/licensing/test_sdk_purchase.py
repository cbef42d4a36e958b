"""End to end with the official SDK: a paid dataset answers 402, the buyer orders it, pays the
PaymentIntent on the Stripe emulator as Stripe.js would, the emulator's own signed webhook reaches
our live server, and the SDK's download then succeeds with the verified checksum."""

import hashlib
import time
import uuid
from pathlib import Path

import datacollective as dc
import pytest
import requests
from django.conf import settings

from licensing.models import Grant, Order
from marketplace.payments import stripe_client
from payouts.models import JournalTransaction
from tests.licensing.conftest import accept_terms, publish
from tests.sdk.conftest import mdc  # noqa: F401 - the SDK environment fixture


def test_buy_then_download_with_the_sdk(
    mdc,  # noqa: F811
    provider,
    buyer,
    tmp_path,
    live_server,
    stripe_emulator_url,
):
    requests.post(
        f"{stripe_emulator_url}/_config/webhooks/purchase-{uuid.uuid4().hex[:8]}",
        data={
            "url": f"{live_server.url}/webhooks/stripe",
            "secret": settings.STRIPE_WEBHOOK_SECRET,
        },
        timeout=10,
    ).raise_for_status()
    dataset = publish(provider, "SDK purchase", isPaid=True, basePriceCents=1_500)
    accept_terms(buyer, dataset)
    mdc.use_key(buyer.secret)
    with pytest.raises(requests.HTTPError) as unpaid:
        dc.download_dataset(
            dataset.public_id, download_directory=str(tmp_path), show_progress=False
        )
    assert unpaid.value.response.status_code == 402

    order = requests.post(
        f"{live_server.url}/api/orders",
        json={"datasetId": dataset.public_id},
        headers={"Authorization": f"Bearer {buyer.secret}", "Idempotency-Key": "buy-1"},
        timeout=30,
    ).json()
    assert order["totalPriceCents"] == 1_575
    client = stripe_client()
    client.payment_intents.update(
        order["paymentIntentId"], params={"payment_method": "pm_card_visa"}
    )
    assert client.payment_intents.confirm(order["paymentIntentId"]).status == "succeeded"

    deadline = time.monotonic() + 30
    while (
        time.monotonic() < deadline
        and not Order.objects.filter(public_id=order["id"], status="paid").exists()
    ):
        time.sleep(0.2)
    assert (
        Order.objects.get(public_id=order["id"]).status == "paid"
    ), "the emulator's webhook did not pay the order"
    assert Grant.objects.filter(order_ref=order["id"], status="active").count() == 1
    assert JournalTransaction.objects.filter(idempotency_key=f"sale:{order['id']}").count() == 1

    path = dc.download_dataset(
        dataset.public_id, download_directory=str(tmp_path), show_progress=False
    )
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == dataset.latest_version.sha256
