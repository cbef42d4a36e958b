"""Polling `GET /api/events` and the organisation scoping of endpoints and deliveries."""

import json

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from marketplace.events.services import event_emit
from marketplace.models import EventDelivery, WebhookEndpoint
from tests.assertions import assert_error
from tests.events.test_webhooks import register
from tests.factories import make_key
from tests.parties import Party

pytestmark = pytest.mark.django_db


def emit_many(party, keys):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return [
            event_emit(organization=party.org, type="order.paid", key=k, data={"order": k})
            for k in keys
        ]


def test_polling_returns_the_same_events_as_the_webhooks(buyer, outsider, receiver, allow_loopback):
    register(buyer, receiver.url())
    emit_many(buyer, ["o1", "o2", "o3"])
    emit_many(outsider, ["x1"])
    pushed = [json.loads(r.body) for r in receiver.received]

    polled = buyer.client.get("/api/events").json()
    assert polled["total"] == 3
    assert polled["items"] == pushed
    after_first = buyer.client.get("/api/events", {"after": pushed[0]["id"]}).json()
    assert [e["id"] for e in after_first["items"]] == [e["id"] for e in pushed[1:]]
    assert buyer.client.get("/api/events", {"after": pushed[2]["id"]}).json()["items"] == []
    # Another organisation's event id is not a valid cursor, and its events never show.
    assert outsider.client.get("/api/events").json()["total"] == 1
    assert_error(outsider.client.get("/api/events", {"after": pushed[0]["id"]}), 404, "not_found")


def test_another_organisations_endpoint_and_deliveries_are_404(
    buyer, outsider, receiver, allow_loopback
):
    endpoint = register(buyer, receiver.url())
    emit_many(buyer, ["o1"])
    delivery = EventDelivery.objects.get()
    base = f"/api/webhook-endpoints/{endpoint['id']}"
    for response in (
        outsider.client.get(base),
        outsider.client.delete(base),
        outsider.client.get(f"{base}/deliveries"),
        outsider.client.post(f"{base}/deliveries/{delivery.pk}/resend"),
    ):
        assert_error(response, 404, "not_found")
    assert outsider.client.get("/api/webhook-endpoints").json()["items"] == []
    # The owner's own delivery id under an endpoint of theirs that does not hold it: 404 too.
    other = register(outsider, receiver.url())
    assert_error(
        outsider.client.post(
            f"/api/webhook-endpoints/{other['id']}/deliveries/{delivery.pk}/resend"
        ),
        404,
    )
    assert WebhookEndpoint.objects.filter(pk=endpoint["id"]).exists()
    assert len(receiver.received) == 1


def test_only_owners_manage_endpoints_and_owners_delete(buyer, receiver, allow_loopback):
    secret, key = make_key(org=buyer.org)
    member = Party(secret, key)
    response = member.client.post(
        "/api/webhook-endpoints",
        {"url": receiver.url(), "eventTypes": ["order.paid"]},
        format="json",
    )
    assert_error(response, 403)
    endpoint = register(buyer, receiver.url())
    assert_error(member.client.delete(f"/api/webhook-endpoints/{endpoint['id']}"), 403)
    assert buyer.client.delete(f"/api/webhook-endpoints/{endpoint['id']}").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_list_endpoints_do_not_grow_queries_with_rows(buyer, receiver, allow_loopback):
    endpoint = register(buyer, receiver.url())
    emit_many(buyer, ["o1"])
    client = buyer.client
    urls = [
        f"/api/webhook-endpoints/{endpoint['id']}/deliveries",
        "/api/events",
        "/api/webhook-endpoints",
    ]

    def queries(url):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = [queries(url) for url in urls]
    register(buyer, receiver.url())
    emit_many(buyer, [f"o{n}" for n in range(2, 12)])
    assert [queries(url) for url in urls] == few
