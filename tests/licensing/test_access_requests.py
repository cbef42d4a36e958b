"""Access requests for restricted datasets: asking, deciding (and changing the decision),
auto-approval, the stale flag for staff, and who can see what."""

from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing.models import AccessRequest
from licensing.tasks import access_requests_mark_stale
from marketplace.models import AuditEvent
from tests.assertions import assert_error
from tests.factories import make_user
from tests.licensing.conftest import publish
from tests.parties import party

pytestmark = pytest.mark.django_db

ASK = {"name": "Ada Lovelace", "organizationName": "Analytical Lab", "intendedUse": "ASR research"}


def ask(who, dataset, **body):
    return who.client.post(
        f"/api/datasets/{dataset.public_id}/access-requests", {**ASK, **body}, format="json"
    )


@pytest.fixture
def restricted(provider):
    return publish(provider, "Clinic dialogues", visibility="restricted")


def test_request_approve_reject_and_change_the_decision(provider, buyer, restricted):
    created = ask(buyer, restricted)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "pending" and body["direction"] == "sent"
    assert body["requester"]["name"] == "Ada Lovelace"
    assert body["requester"]["organizationName"] == "Analytical Lab"
    assert body["intendedUse"] == "ASR research"
    rid = body["id"]

    # The publisher sees it as received; the requester sees its status at any time.
    received = provider.client.get("/api/access-requests").json()
    assert [(r["id"], r["direction"]) for r in received["items"]] == [(rid, "received")]
    assert buyer.client.get(f"/api/access-requests/{rid}").json()["status"] == "pending"

    # Only the publisher decides.
    assert_error(
        buyer.client.post(f"/api/access-requests/{rid}/approve", {}, format="json"),
        403,
        "not_dataset_owner",
    )
    # A rejection needs a reason.
    assert_error(provider.client.post(f"/api/access-requests/{rid}/reject", {}, format="json"), 400)
    rejected = provider.client.post(
        f"/api/access-requests/{rid}/reject", {"reason": "Not a research body."}, format="json"
    )
    assert rejected.status_code == 200
    seen = buyer.client.get(f"/api/access-requests/{rid}").json()
    assert seen["status"] == "rejected" and seen["reason"] == "Not a research body."

    # The publisher changes its mind; then again.
    approved = provider.client.post(f"/api/access-requests/{rid}/approve", {}, format="json")
    assert approved.json()["status"] == "approved" and approved.json()["reason"] is None
    assert buyer.client.get(f"/api/access-requests/{rid}").json()["status"] == "approved"
    provider.client.post(f"/api/access-requests/{rid}/reject", {"reason": "Misuse."}, format="json")
    assert AccessRequest.objects.get(public_id=rid).status == "rejected"
    actions = list(
        AuditEvent.objects.filter(object_type="licensing.accessrequest")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "access_request.create",
        "access_request.reject",
        "access_request.approve",
        "access_request.reject",
    ]

    # Asking again after a rejection reopens the same request as pending.
    again = ask(buyer, restricted, intendedUse="Only evaluation of our ASR model")
    assert again.status_code == 200 and again.json()["id"] == rid
    assert again.json()["status"] == "pending" and again.json()["reason"] is None
    assert AccessRequest.objects.count() == 1


def test_auto_approve_from_the_datasheet(provider, buyer):
    dataset = publish(provider, "Open-ish", visibility="restricted", autoApproveAccessRequests=True)
    body = ask(buyer, dataset).json()
    assert body["status"] == "approved" and body["autoApproved"] is True
    # An approved request stays approved when asked again.
    again = ask(buyer, dataset)
    assert again.status_code == 200 and again.json()["status"] == "approved"
    # The owner can still revoke access by rejecting it.
    provider.client.post(
        f"/api/access-requests/{body['id']}/reject", {"reason": "Closed."}, format="json"
    )
    assert buyer.client.get(f"/api/access-requests/{body['id']}").json()["status"] == "rejected"


def test_bad_requests(provider, buyer, restricted):
    public = publish(provider, "Public one")
    private = publish(provider, "Private one", visibility="private")
    assert_error(ask(buyer, public), 422, "not_restricted")
    assert_error(ask(buyer, private), 404, "not_found")
    assert_error(ask(provider, restricted), 422)
    assert_error(ask(buyer, restricted, intendedUse=""), 400)
    missing = buyer.client.post(
        f"/api/datasets/{restricted.public_id}/access-requests", {"name": "x"}, format="json"
    )
    assert_error(missing, 400)
    assert_error(buyer.client.post("/api/datasets/dsnope/access-requests", ASK, format="json"), 404)
    assert_error(
        buyer.client.get("/api/access-requests", {"direction": "sideways"}),
        400,
    )
    assert not AccessRequest.objects.exists()


def test_other_organisations_see_nothing(provider, buyer, outsider, restricted):
    rid = ask(buyer, restricted).json()["id"]
    assert outsider.client.get("/api/access-requests").json() == {
        "items": [],
        "total": 0,
        "page": 1,
        "limit": 50,
    }
    assert_error(outsider.client.get(f"/api/access-requests/{rid}"), 404)
    assert_error(
        outsider.client.post(f"/api/access-requests/{rid}/approve", {}, format="json"), 404
    )
    assert_error(
        outsider.client.post(f"/api/access-requests/{rid}/reject", {"reason": "x"}, format="json"),
        404,
    )
    assert AccessRequest.objects.get(public_id=rid).status == "pending"


def test_list_filters_and_query_count(provider, restricted):
    other = publish(provider, "Second restricted", visibility="restricted")
    requesters = [party() for _ in range(2)]
    for requester in requesters:
        assert ask(requester, restricted).status_code == 201

    def listing(**params):
        with CaptureQueriesContext(connection) as queries:
            response = provider.client.get("/api/access-requests", params)
        assert response.status_code == 200
        return response.json(), len(queries)

    listing()  # warm-up: the key's first use records last_used_at
    few, few_queries = listing()
    assert few["total"] == 2
    for _ in range(6):
        ask(party(), other)
    many, many_queries = listing()
    assert many["total"] == 8 and many_queries == few_queries <= 3
    assert listing(status="pending")[0]["total"] == 8
    assert listing(direction="sent")[0]["total"] == 0
    assert listing(direction="received", limit=3, page=3)[0]["items"][-1]["direction"] == "received"
    # A requester's own view counts only its own.
    assert requesters[0].client.get("/api/access-requests").json()["total"] == 1


def test_pending_too_long_is_flagged_for_staff(settings, provider, buyer, restricted):
    settings.ACCESS_REQUEST_STALE_DAYS = 3
    rid = ask(buyer, restricted).json()["id"]
    fresh_one = party()
    ask(fresh_one, restricted)
    AccessRequest.objects.filter(public_id=rid).update(
        requested_at=timezone.now() - timedelta(days=4)
    )
    assert access_requests_mark_stale.delay().get() == 1
    assert access_requests_mark_stale.delay().get() == 0  # idempotent
    stale = AccessRequest.objects.get(public_id=rid)
    assert stale.stale_since is not None

    # The admin lists it under the "stale" filter.
    staff = make_user(is_staff=True)
    request = RequestFactory().get("/admin/licensing/accessrequest/", {"stale": "yes"})
    request.user = staff
    changelist = site._registry[AccessRequest].get_changelist_instance(request)
    assert [r.public_id for r in changelist.get_queryset(request)] == [rid]

    # A decision clears the flag.
    provider.client.post(f"/api/access-requests/{rid}/approve", {}, format="json")
    assert AccessRequest.objects.get(public_id=rid).stale_since is None
