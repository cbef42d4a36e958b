import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import stripe
from django.conf import settings

from marketplace.models import StripeEvent
from marketplace.webhooks import stripe_handler_register
from tests.webhooks import stripe_event, stripe_signature, webhook_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """Deliver a webhook and run its after-commit work (the processing task) as a real commit
    would; the test transaction itself never commits."""

    def _post(payload: bytes, signature: str | None):
        with django_capture_on_commit_callbacks(execute=True):
            return webhook_post(payload, signature)

    return _post


def test_valid_event_is_stored_and_dispatched_once_even_when_replayed(post):
    seen = []
    stripe_handler_register("test.replayed", lambda event: seen.append(event.event_id))
    payload = stripe_event("test.replayed")
    for _ in range(5):
        response = post(payload, stripe_signature(payload))
        assert response.status_code == 200
    event_id = json.loads(payload)["id"]
    assert StripeEvent.objects.filter(event_id=event_id).count() == 1
    stored = StripeEvent.objects.get(event_id=event_id)
    assert stored.status == StripeEvent.Status.PROCESSED
    assert seen == [event_id]


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_store_one_event():
    payload = stripe_event("test.concurrent")
    signature = stripe_signature(payload)
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda _: webhook_post(payload, signature).status_code, range(8)))
    assert statuses == [200] * 8
    assert StripeEvent.objects.filter(event_id=json.loads(payload)["id"]).count() == 1


def test_tampered_body_is_400(post):
    payload = stripe_event()
    signature = stripe_signature(payload)
    tampered = payload.replace(b"obj_1", b"obj_2")
    response = post(tampered, signature)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_signature"
    assert not StripeEvent.objects.exists()


def test_old_timestamp_is_400(post):
    payload = stripe_event()
    response = post(payload, stripe_signature(payload, timestamp=int(time.time()) - 301))
    assert response.status_code == 400
    assert "timestamp" in response.json()["message"].lower()


def test_wrong_secret_and_missing_signature_are_400(post):
    payload = stripe_event()
    assert post(payload, stripe_signature(payload, secret="whsec_other")).status_code == 400
    assert post(payload, None).status_code == 400


def test_failing_handler_marks_event_failed_and_keeps_it_for_retry(post):
    def broken(event):
        raise RuntimeError("handler bug")

    stripe_handler_register("test.broken", broken)
    payload = stripe_event("test.broken")
    assert post(payload, stripe_signature(payload)).status_code == 200
    stored = StripeEvent.objects.get(event_id=json.loads(payload)["id"])
    assert stored.status == StripeEvent.Status.FAILED
    assert "handler bug" in stored.last_error
    assert stored.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_event_from_the_stripe_emulator_passes_verification(live_server, stripe_emulator_url):
    hook_id = f"test-{uuid.uuid4().hex[:8]}"
    requests.post(
        f"{stripe_emulator_url}/_config/webhooks/{hook_id}",
        data={
            "url": f"{live_server.url}/webhooks/stripe",
            "secret": settings.STRIPE_WEBHOOK_SECRET,
        },
        timeout=10,
    ).raise_for_status()
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": stripe_emulator_url}
    )
    customer = client.customers.create(params={"email": "buyer@example.com"})
    deadline = time.monotonic() + 20
    event = None
    while time.monotonic() < deadline and event is None:
        event = StripeEvent.objects.filter(
            type="customer.created",
            payload__data__object__id=customer.id,
            status=StripeEvent.Status.PROCESSED,
        ).first()
        time.sleep(0.2)
    assert event is not None, "the emulator's signed webhook was not received and processed"
