"""Takedown tests: a notice filed the way claimants file it (API without a key, or the public
web form), decided by a reviewer in the admin, answered by the provider in its workspace."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from marketplace.models import TakedownNotice
from tests.events.conftest import allow_loopback, receiver  # noqa: F401 - fixtures
from tests.licensing.conftest import publish
from tests.licensing.test_staff_refunds import paid_order  # noqa: F401 - fixture
from tests.staff.conftest import reviewer_user, staff_client, support_user  # noqa: F401

CLAIMANT = "rights@claimant.example"
NOTICES = "/admin/marketplace/takedownnotice/"


def notice_body(target, **changes) -> dict:
    body = {
        "dataset": target.public_id,
        "claimantName": "Ada Claimant",
        "contactEmail": CLAIMANT,
        "basis": "copyright",
        "members": ["audio/clip_0001.wav", "audio/clip_0002.wav"],
        "description": "These recordings are mine and were published without my permission.",
        "goodFaith": True,
    }
    body.update(changes)
    return body


def file_notice(target, **changes) -> TakedownNotice:
    """A notice filed through the API by someone without an account."""
    response = APIClient().post(
        "/api/takedown-notices", notice_body(target, **changes), format="json"
    )
    assert response.status_code == 201, response.content
    return TakedownNotice.objects.get(reference=response.json()["reference"])


def accept_in_admin(user, notice: TakedownNotice):
    return staff_client(user).post(
        NOTICES, {"action": "accept", "_selected_action": [notice.pk]}, follow=True
    )


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def dataset(provider):
    return publish(provider, "Disputed speech")
