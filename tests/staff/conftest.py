"""Staff users of each group, made the way production makes them (`user_create` with the
groups the data migration web/0001_staff_groups created; web.apps puts them back after a
flush), and a submission waiting in the review queue."""

import pytest
from django.test import Client

from marketplace.models import Submission
from tests.catalogue_helpers import DATASHEET, api, make_archive, upload_bytes
from tests.factories import make_user


def staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def reviewer_user(db):
    return make_user(is_staff=True, groups=["reviewer"])


@pytest.fixture
def finance_user(db):
    return make_user(is_staff=True, groups=["finance"])


@pytest.fixture
def support_user(db):
    return make_user(is_staff=True, groups=["support"])


@pytest.fixture
def superuser(db):
    return make_user(is_staff=True, is_superuser=True)


def submission_in_review(secret: str, name: str = "Reviewed speech", **datasheet) -> Submission:
    """Create, fill, upload and submit through the API; the checks pass (run eagerly)."""
    client = api(secret)
    sid = client.post("/api/submissions", {"name": name}, format="json").json()["submission"]["id"]
    response = client.patch(f"/api/submissions/{sid}", {**DATASHEET, **datasheet}, format="json")
    assert response.status_code == 200, response.json()
    upload_bytes(client, sid, make_archive())
    response = client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    assert response.status_code == 200, response.json()
    submission = Submission.objects.get(public_id=sid)
    assert submission.status == Submission.Status.IN_REVIEW
    return submission
