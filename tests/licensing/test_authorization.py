"""Authorisation matrix over the object endpoints of licensing: an organisation never sees nor
acts on another organisation's grants, certificates, access requests or download history; the
answer is 404, as for an object that does not exist (no existence leak)."""

import pytest

from licensing.models import AccessRequest, Grant
from licensing.selectors import dataset_terms
from licensing.services.access_requests import access_request_create
from licensing.services.grants import grant_issue
from marketplace.actors import actor_for_key, actor_for_member
from tests.assertions import assert_error
from tests.catalogue_helpers import api
from tests.licensing.conftest import accept_terms, publish
from tests.parties import party

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(provider, buyer):
    """The provider publishes a paid public dataset and a restricted one; the buyer accepted
    the terms, holds a grant, downloaded, and asked for access to the restricted one."""
    paid = publish(provider, "Paid", isPaid=True, basePriceCents=700)
    restricted = publish(provider, "Restricted", visibility="restricted")
    accept_terms(buyer, paid)
    grant = grant_issue(
        organization=buyer.org,
        dataset=paid,
        terms_hash=dataset_terms(paid).hash,
        source=Grant.Source.PURCHASE,
        actor=buyer.user,
    )
    assert buyer.client.post(f"/api/datasets/{paid.public_id}/download").status_code == 200
    request, _ = access_request_create(
        actor=actor_for_key(buyer.key),
        dataset=restricted,
        name="Ada",
        organization_name="Buyer Lab",
        intended_use="Research",
    )
    return {"paid": paid, "restricted": restricted, "grant": grant, "request": request}


def endpoints(world):
    grant, request, paid = world["grant"], world["request"], world["paid"]
    return [
        ("get", f"/api/grants/{grant.public_id}", None),
        ("get", f"/api/grants/{grant.public_id}/certificate", None),
        ("get", f"/api/access-requests/{request.public_id}", None),
        ("post", f"/api/access-requests/{request.public_id}/approve", {}),
        ("post", f"/api/access-requests/{request.public_id}/reject", {"reason": "no"}),
        ("get", f"/api/datasets/{paid.public_id}/downloads", None),
    ]


def call(client, method, path, body):
    if method == "post":
        return client.post(path, body, format="json")
    return client.get(path)


def test_another_organisation_gets_404_everywhere(world):
    outsider = party()
    for method, path, body in endpoints(world):
        assert_error(call(outsider.client, method, path, body), 404)
        assert_error(call(api(), method, path, body), 401)
    # Lists are scoped, not filtered after the fact.
    assert outsider.client.get("/api/grants").json()["total"] == 0
    assert outsider.client.get("/api/access-requests").json()["total"] == 0
    # Nothing changed.
    assert AccessRequest.objects.get().status == "pending"
    assert world["grant"].certificates.count() == 1


def test_buyer_and_provider_see_only_their_side(provider, buyer, world):
    grant, request, paid = world["grant"], world["request"], world["paid"]
    # The provider sold the grant but it is the buyer's: 404 for the provider.
    assert_error(provider.client.get(f"/api/grants/{grant.public_id}"), 404)
    assert_error(provider.client.get(f"/api/grants/{grant.public_id}/certificate"), 404)
    assert provider.client.get("/api/grants").json()["total"] == 0
    # The download history is the provider's: 404 for the buyer who downloaded.
    assert_error(buyer.client.get(f"/api/datasets/{paid.public_id}/downloads"), 404)
    # Both sides see the access request; only the provider decides on it.
    assert buyer.client.get(f"/api/access-requests/{request.public_id}").status_code == 200
    assert provider.client.get(f"/api/access-requests/{request.public_id}").status_code == 200
    assert_error(
        buyer.client.post(f"/api/access-requests/{request.public_id}/approve", {}, format="json"),
        403,
        "not_dataset_owner",
    )
    # A colleague in the buyer's organisation sees the organisation's grants and requests.
    from marketplace.services.identity import api_key_create, membership_add
    from tests.factories import make_user

    colleague = make_user()
    membership_add(organization=buyer.org, user=colleague)
    colleague_client = api(
        api_key_create(actor=actor_for_member(user=colleague, organization=buyer.org)).secret
    )
    assert colleague_client.get(f"/api/grants/{grant.public_id}").status_code == 200
    assert colleague_client.get("/api/access-requests").json()["total"] == 1
