"""The API keys page (secret shown once, owner sees every key, members only theirs) and the
dashboard (what needs doing next; a constant number of queries)."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from marketplace.models import ApiKey, Dataset, Submission
from tests.catalogue_helpers import api, make_archive, publish_dataset
from tests.factories import make_key, make_org, make_user

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_new_key_is_shown_once_and_works_with_the_api():
    org, owner = make_org(uploads=True)
    client = browser(owner)
    created = client.post("/organization/keys", {"name": "laptop"})
    assert created.status_code == 201
    html = created.content.decode()
    secret = re.search(r'value="(dc_[^"]+)"', html).group(1)
    assert "MDC_API_URL=http://127.0.0.1:8000/api" in html and f"MDC_API_KEY={secret}" in html
    assert api(secret).get("/api/me").json()["canUpload"] is True
    # Never again: the list shows the prefix only.
    listing = client.get("/organization/keys").content.decode()
    assert secret not in listing and ApiKey.objects.get(name="laptop").prefix in listing


def test_owner_sees_and_revokes_every_key_a_member_only_their_own():
    _, owner_key = make_key()
    org, owner = owner_key.organization, owner_key.user
    _, member_key = make_key(org=org)
    member = member_key.user
    owner_page = browser(owner).get("/organization/keys").content.decode()
    assert owner_key.prefix in owner_page and member_key.prefix in owner_page
    member_page = browser(member).get("/organization/keys").content.decode()
    assert member_key.prefix in member_page and owner_key.prefix not in member_page

    refused = browser(member).post(f"/organization/keys/{owner_key.pk}/revoke", follow=True)
    assert b"not found" in refused.content
    assert ApiKey.objects.get(pk=owner_key.pk).revoked_at is None
    browser(owner).post(f"/organization/keys/{member_key.pk}/revoke")
    assert ApiKey.objects.get(pk=member_key.pk).revoked_at is not None
    # Another organisation's key: not found, untouched.
    _, stranger_key = make_key()
    browser(owner).post(f"/organization/keys/{stranger_key.pk}/revoke")
    assert ApiKey.objects.get(pk=stranger_key.pk).revoked_at is None


def test_keys_page_explains_keys_that_predate_upload_approval():
    _, early = make_key()
    from marketplace.services.identity import organization_decide_upload_access

    organization_decide_upload_access(organization=early.organization, approve=True, actor=None)
    html = browser(early.user).get("/organization/keys").content.decode()
    assert "key_predates_upload_approval" in html and "Active, cannot upload" in html


def test_key_name_too_long_is_refused_next_to_the_field():
    org, owner = make_org()
    response = browser(owner).post("/organization/keys", {"name": "x" * 101})
    assert response.status_code == 400
    assert b"at most 100 characters" in response.content
    assert not ApiKey.objects.filter(organization=org).exists()


def test_dashboard_shows_state_and_next_steps_in_constant_queries():
    secret, key = make_key(uploads=True)
    client = browser(key.user)
    publish_dataset(secret, name="Dashboard speech", data=make_archive(3_000, seed=b"a"))

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/dashboard")
        assert response.status_code == 200
        return len(ctx.captured_queries)

    queries()  # the first visit also stores the organisation picked in the session
    first = queries()
    for n in range(5):
        api(secret).post("/api/submissions", {"name": f"draft {n}"}, format="json")
    assert queries() == first
    html = client.get("/dashboard").content.decode()
    assert "Dashboard speech" in html and "Connect a payout account" in html
    assert Submission.objects.filter(organization=key.organization).count() == 6
    # Five drafts: the next step speaks of them in the plural; each submission and dataset
    # row opens its own page.
    assert "Finish and submit your draft submissions." in html
    dataset = Dataset.objects.get(organization=key.organization)
    assert f'href="/organization/datasets/{dataset.public_id}">Dashboard speech</a>' in html
    for submission in Submission.objects.filter(organization=key.organization):
        assert f'href="/submissions/{submission.public_id}">{submission.name}</a>' in html


def test_an_organisation_that_does_not_publish_is_not_asked_for_a_payout_account():
    _, key = make_key()  # upload access never asked for
    html = browser(key.user).get("/dashboard").content.decode()
    assert "Ask staff for upload access" in html
    assert "Connect a payout account" not in html
    assert "draft submission" not in html


def test_a_user_without_an_organisation_is_sent_to_create_one():
    user = make_user()
    assert browser(user).get("/organization/keys")["Location"] == "/organizations/new"
