"""Events emitted by the licensing services, in the transaction of the change (outbox)."""

import json

import pytest
from django.db import transaction
from django.test import TestCase

from licensing.models import Grant
from licensing.services.refunds import order_refund_request
from marketplace.events.services import event_emit
from marketplace.models import Event
from tests.events.test_webhooks import register
from tests.licensing.conftest import publish
from tests.licensing.test_access_requests import ask
from tests.licensing.test_staff_refunds import paid_order  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def polled(party) -> list[dict]:
    return party.client.get("/api/events", {"limit": 200}).json()["items"]


def test_a_rolled_back_change_tells_nobody(buyer, receiver, allow_loopback):
    register(buyer, receiver.url())
    with (
        TestCase.captureOnCommitCallbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        event_emit(organization=buyer.org, type="order.paid", key="o1", data={})
        raise RuntimeError("the change failed")
    assert not Event.objects.exists()
    assert receiver.received == []


def test_order_paid_then_grant_revoked_on_refund(
    buyer,
    staff,
    paid_order,  # noqa: F811
):
    (paid,) = polled(buyer)
    assert paid["type"] == "order.paid"
    assert paid["data"]["order"] == paid_order.public_id
    assert paid["data"]["totalPriceCents"] == paid_order.total_price_cents

    with TestCase.captureOnCommitCallbacks(execute=True):
        order_refund_request(user=staff, order=paid_order, amount_cents=None, reason="Mistake")
    grant = Grant.objects.get(order_ref=paid_order.public_id)
    events = polled(buyer)
    assert [e["type"] for e in events] == ["order.paid", "grant.revoked"]
    assert events[1]["data"]["grant"] == grant.public_id
    assert events[1]["data"]["dataset"] == paid_order.dataset.public_id


def test_order_paid_is_pushed_to_the_buyers_endpoint(
    buyer, provider, receiver, allow_loopback, staff
):
    from tests.licensing.test_orders import deliver_committed, order_for, pay
    from tests.payouts.test_disputes import PRICE

    register(buyer, receiver.url(), types=["order.paid"])
    dataset = publish(provider, "Pushed corpus", isPaid=True, basePriceCents=PRICE)
    order = order_for(buyer, dataset)
    pay(order)
    deliver_committed("payment_intent.succeeded", order["paymentIntentId"])
    (got,) = receiver.received
    body = json.loads(got.body)
    assert body["type"] == "order.paid" and body["data"]["order"] == order["id"]
    assert body == polled(buyer)[0]
    # The provider is not told about the buyer's order.
    assert polled(provider) == []


def test_access_request_decisions_reach_the_requester(provider, buyer):
    dataset = publish(provider, "Clinic dialogues", visibility="restricted")
    rid = ask(buyer, dataset).json()["id"]
    provider.client.post(f"/api/access-requests/{rid}/reject", {"reason": "No."}, format="json")
    provider.client.post(f"/api/access-requests/{rid}/approve", {}, format="json")
    events = polled(buyer)
    assert [(e["type"], e["data"]["status"]) for e in events] == [
        ("access_request.decided", "rejected"),
        ("access_request.decided", "approved"),
    ]
    assert {e["data"]["accessRequest"] for e in events} == {rid}
    assert len({e["id"] for e in events}) == 2


def test_grant_holders_hear_of_new_versions_and_removal(
    buyer,
    provider,
    outsider,
    staff,
    paid_order,  # noqa: F811
):
    from marketplace.models import Submission
    from marketplace.services.review import dataset_remove, submission_approve
    from tests.catalogue_helpers import make_archive, upload_bytes

    dataset = paid_order.dataset
    submission = Submission.objects.get(dataset=dataset)
    upload_bytes(provider.client, submission.public_id, make_archive(3_000, seed=b"v2"))
    submission.refresh_from_db()
    with TestCase.captureOnCommitCallbacks(execute=True):
        version = submission_approve(submission=submission, actor=staff)
        dataset_remove(dataset=dataset, actor=staff, reason="copyright")
        dataset_remove(dataset=dataset, actor=staff, reason="copyright")  # idempotent

    events = polled(buyer)
    assert [e["type"] for e in events] == [
        "order.paid",
        "dataset.version_published",
        "dataset.removed",
    ]
    assert events[1]["data"] == {
        "dataset": dataset.public_id,
        "version": version.number,
        "sha256": version.sha256,
        "sizeBytes": version.size_bytes,
        "publishedAt": version.published_at.isoformat(),
    }
    assert events[2]["data"]["reason"] == "copyright"
    # Not silently revoked; and nobody without a grant is told.
    assert Grant.objects.get(order_ref=paid_order.public_id).status == "active"
    assert polled(outsider) == [] and polled(provider) == []
