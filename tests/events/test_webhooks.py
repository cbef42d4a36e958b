"""Signed outbound webhooks against a real HTTP receiver on loopback (issue 13 §1)."""

import json
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.test import TestCase
from django.utils import timezone

from marketplace.events.delivery import deliveries_due, delivery_attempt
from marketplace.events.services import event_emit
from marketplace.models import EventDelivery, WebhookEndpoint
from tests.assertions import assert_error

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
SNIPPET = re.compile(r"<!-- webhook-verify-snippet -->\n```python\n(.*?)```", re.S)


def readme_verify():
    """The verification snippet exactly as the README documents it."""
    code = SNIPPET.search(README.read_text()).group(1)
    assert len(code.strip().splitlines()) <= 10
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    return namespace["verify"]


def register(party, url, types=("order.paid", "grant.revoked")) -> dict:
    response = party.client.post(
        "/api/webhook-endpoints", {"url": url, "eventTypes": list(types)}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def emit(party, key="ord_1", type="order.paid"):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return event_emit(organization=party.org, type=type, key=key, data={"order": key})


def test_signature_verifies_with_the_documented_snippet(buyer, receiver, allow_loopback):
    verify = readme_verify()
    endpoint = register(buyer, receiver.url())
    event = emit(buyer)

    (got,) = receiver.received
    header = got.headers["Webhook-Signature"]
    assert verify(got.body, header, endpoint["secret"])
    assert json.loads(got.body)["id"] == event.public_id == got.headers["Webhook-Id"]
    assert not verify(got.body.replace(b"ord_1", b"ord_2"), header, endpoint["secret"])
    assert not verify(got.body, header, "whsec_someone_else")
    # The secret is shown once: never again in a read.
    detail = buyer.client.get(f"/api/webhook-endpoints/{endpoint['id']}").json()
    assert "secret" not in detail
    assert "secret" not in buyer.client.get("/api/webhook-endpoints").json()["items"][0]


def test_fails_twice_then_succeeds_acknowledged_once_with_three_attempts(
    buyer, receiver, allow_loopback
):
    receiver.statuses = [500, 503]
    endpoint = register(buyer, receiver.url())
    emit(buyer)
    delivery = EventDelivery.objects.get()
    assert delivery.status == "pending" and delivery.next_attempt_at is not None
    # Not due again before its backoff.
    assert deliveries_due(now=timezone.now()) == []

    later = delivery.next_attempt_at + timedelta(seconds=1)
    assert deliveries_due(now=later) == [delivery.pk]
    delivery_attempt(delivery_pk=delivery.pk, now=later)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.last_response_code == 503
    assert delivery.next_attempt_at - later >= timedelta(seconds=119)  # backoff doubled

    latest = delivery.next_attempt_at + timedelta(seconds=1)
    for pk in deliveries_due(now=latest):
        delivery_attempt(delivery_pk=pk, now=latest)
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 3
    assert deliveries_due(now=latest + timedelta(days=5)) == []

    assert len(receiver.received) == 3
    assert len({r.headers["Webhook-Id"] for r in receiver.received}) == 1
    log = buyer.client.get(f"/api/webhook-endpoints/{endpoint['id']}/deliveries").json()
    (row,) = log["items"]
    assert row["status"] == "succeeded" and row["attempts"] == 3
    assert [a["responseCode"] for a in row["log"]] == [500, 503, 200]
    assert [a["succeeded"] for a in row["log"]] == [False, False, True]
    assert all(len(a["responseBody"].encode()) <= 1024 for a in row["log"])
    assert len(row["log"][0]["responseBody"]) == 1024  # the receiver sent 5000 bytes


def test_resend_is_a_replay_detectable_by_id(buyer, receiver, allow_loopback):
    verify = readme_verify()
    endpoint = register(buyer, receiver.url())
    emit(buyer)
    delivery = EventDelivery.objects.get()
    response = buyer.client.post(
        f"/api/webhook-endpoints/{endpoint['id']}/deliveries/{delivery.pk}/resend"
    )
    assert response.status_code == 202, response.content
    first, again = receiver.received
    assert first.headers["Webhook-Id"] == again.headers["Webhook-Id"]
    assert json.loads(first.body)["id"] == json.loads(again.body)["id"]
    assert verify(again.body, again.headers["Webhook-Signature"], endpoint["secret"])
    assert response.json()["status"] == "pending"  # queued; sent after commit
    log = buyer.client.get(f"/api/webhook-endpoints/{endpoint['id']}/deliveries").json()
    assert log["items"][0]["attempts"] == 2 and log["items"][0]["status"] == "succeeded"


def test_the_same_change_emitted_twice_is_one_event(buyer, receiver, allow_loopback):
    register(buyer, receiver.url())
    first = emit(buyer, key="ord_9")
    second = emit(buyer, key="ord_9")
    assert first.pk == second.pk
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:{port}/hook",
        "http://127.0.0.1:{port}/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:{port}/hook",
        "ftp://example.com/hook",
    ],
)
def test_an_internal_address_is_refused_at_registration(buyer, receiver, url):
    response = buyer.client.post(
        "/api/webhook-endpoints",
        {"url": url.format(port=receiver.port), "eventTypes": ["order.paid"]},
        format="json",
    )
    assert response.status_code in (400, 422)
    assert_error(response, response.status_code)
    assert not WebhookEndpoint.objects.exists()


def test_an_internal_address_is_refused_at_delivery(buyer, receiver, allow_loopback):
    endpoint = register(buyer, receiver.url("localhost"))
    allow_loopback.WEBHOOKS_ALLOW_LOOPBACK = False  # e.g. the name now resolves elsewhere
    emit(buyer)
    assert receiver.received == []
    delivery = EventDelivery.objects.get()
    assert delivery.status == "pending" and delivery.last_response_code is None
    assert "loopback" in delivery.last_error
    log = buyer.client.get(f"/api/webhook-endpoints/{endpoint['id']}/deliveries").json()
    assert log["items"][0]["log"][0]["error"] == delivery.last_error


def test_a_slow_receiver_does_not_hold_the_worker(buyer, receiver, allow_loopback):
    allow_loopback.WEBHOOKS_TIMEOUT_SECONDS = 0.5
    receiver.hold = threading.Event()
    register(buyer, receiver.url())
    emit(buyer)  # runs the attempt (eager task after commit) and returns
    # The attempt came back while the receiver was still holding the request open.
    assert receiver.waiting.is_set()
    receiver.hold.set()
    delivery = EventDelivery.objects.get()
    assert delivery.status == "pending" and delivery.last_error == "timeout"
    assert delivery.next_attempt_at is not None and delivery.claimed_until is None


def test_an_endpoint_failing_repeatedly_is_disabled_and_the_owner_told(
    buyer, receiver, allow_loopback
):
    allow_loopback.WEBHOOKS_DISABLE_AFTER_FAILURES = 2
    receiver.statuses = [500, 500]
    register(buyer, receiver.url())
    emit(buyer, key="ord_a")
    with TestCase.captureOnCommitCallbacks(execute=True):
        later = timezone.now() + timedelta(minutes=2)
        for pk in deliveries_due(now=later):
            delivery_attempt(delivery_pk=pk, now=later)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.status == "disabled" and endpoint.disabled_at is not None
    (message,) = mail.outbox
    assert message.to == [buyer.user.email] and endpoint.url in message.body
    # A disabled endpoint gets no new deliveries; polling still has the event.
    emit(buyer, key="ord_b")
    assert len(receiver.received) == 2
    assert len(buyer.client.get("/api/events").json()["items"]) == 2


def test_bad_input_is_a_json_error_and_writes_nothing(buyer, allow_loopback):
    bad = [
        {"url": "http://127.0.0.1/x", "eventTypes": ["no.such"]},
        {"url": "http://127.0.0.1/x", "eventTypes": []},
        {"url": "not a url", "eventTypes": ["order.paid"]},
    ]
    for body in bad:
        response = buyer.client.post("/api/webhook-endpoints", body, format="json")
        assert_error(response, response.status_code)
        assert 400 <= response.status_code < 500
    assert not WebhookEndpoint.objects.exists()


def test_the_beat_sweep_retries_due_deliveries_and_a_done_one_is_never_resent(
    buyer, receiver, allow_loopback
):
    from marketplace.events.tasks import event_deliveries_send_due

    receiver.statuses = [500]
    register(buyer, receiver.url())
    emit(buyer)
    assert event_deliveries_send_due.delay().get() == 0  # not due yet
    # Time passes: the retry time is now behind us.
    EventDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert event_deliveries_send_due.delay().get() == 1
    delivery = EventDelivery.objects.get()
    assert delivery.status == "succeeded" and delivery.attempts == 2
    # Run twice (a duplicated task message): nothing more is sent.
    assert delivery_attempt(delivery_pk=delivery.pk) is None
    assert event_deliveries_send_due.delay().get() == 0
    assert len(receiver.received) == 2
