"""The licensing admin: every list renders for staff, and staff can revoke grants."""

import pytest
from django.test import Client

from licensing.models import AccessRequest, Grant
from licensing.selectors import dataset_terms
from licensing.services.access_requests import access_request_create
from licensing.services.grants import grant_issue
from marketplace.actors import actor_for_key
from tests.factories import make_user
from tests.licensing.conftest import accept_terms, publish

pytestmark = pytest.mark.django_db

MODELS = [
    "license",
    "termsdocument",
    "termsacceptance",
    "accessrequest",
    "grant",
    "signingkey",
    "downloadsession",
]


def test_admin_lists_render_and_staff_can_revoke(provider, buyer):
    dataset = publish(provider, "Admin paid", isPaid=True, basePriceCents=900)
    restricted = publish(provider, "Admin restricted", visibility="restricted")
    accept_terms(buyer, dataset)
    grant = grant_issue(
        organization=buyer.org,
        dataset=dataset,
        terms_hash=dataset_terms(dataset).hash,
        source=Grant.Source.PURCHASE,
        actor=None,
    )
    buyer.client.post(f"/api/datasets/{dataset.public_id}/download")
    access_request_create(
        actor=actor_for_key(buyer.key),
        dataset=restricted,
        name="Ada",
        organization_name="Lab",
        intended_use="Research",
    )
    staff = make_user(is_staff=True, is_superuser=True)  # every licensing page at once
    browser = Client()
    browser.force_login(staff)
    for model in MODELS:
        response = browser.get(f"/admin/licensing/{model}/")
        assert response.status_code == 200, model
    assert browser.get("/admin/licensing/accessrequest/?stale=yes").status_code == 200
    page = browser.get(f"/admin/licensing/grant/{grant.pk}/change/")
    assert page.status_code == 200 and grant.public_id in page.content.decode()
    assert "private_key_pem" not in browser.get("/admin/licensing/signingkey/").content.decode()

    response = browser.post(
        "/admin/licensing/grant/",
        {"action": "revoke", "_selected_action": [grant.pk]},
    )
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.status == "revoked" and grant.revoked_by == staff
    assert AccessRequest.objects.count() == 1
