import hashlib
import hmac
import json
import time

import pytest
import requests
from django.conf import settings
from django.test import Client

from marketplace.models import Dataset, Submission
from marketplace.services.identity import api_key_create, membership_add
from tests.catalogue_helpers import api, publish_dataset
from tests.factories import make_key, make_user


@pytest.fixture
def provider(db):
    """An organisation with upload rights, its owner's key and one published dataset."""
    secret, key = make_key(uploads=True)
    sid, _version = publish_dataset(secret)
    dataset = Dataset.objects.get(pk=Submission.objects.get(public_id=sid).dataset_id)
    return secret, key, dataset


@pytest.fixture
def owner(provider):
    return api(provider[0])


@pytest.fixture
def dataset(provider):
    return provider[2]


@pytest.fixture
def member_client(provider):
    """A plain (non-owner) member of the provider's organisation."""
    user = make_user()
    membership_add(organization=provider[1].organization, user=user)
    return api(api_key_create(user=user, organization=provider[1].organization).secret)


@pytest.fixture
def outsider():
    """The owner of another organisation."""
    return api(make_key()[0])


def shares_url(dataset) -> str:
    return f"/api/datasets/{dataset.public_id}/shares"


def stripe_signature(payload: bytes) -> str:
    timestamp = int(time.time())
    secret = settings.STRIPE_WEBHOOK_SECRET.encode()
    mac = hmac.new(secret, b"%d.%s" % (timestamp, payload), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """POST a signed event to the real receiver and run its after-commit processing (the
    test transaction itself never commits)."""

    def _deliver(payload: bytes):
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post(
                "/webhooks/stripe",
                data=payload,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=stripe_signature(payload),
            )
        assert response.status_code == 200, response.content
        return response

    return _deliver


def emulator_events(stripe_emulator_url, *, event_type: str, object_id: str) -> list[bytes]:
    """The emulator's own events about one object, as raw JSON bodies (newest first)."""
    auth = {"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"}
    listing = requests.get(
        f"{stripe_emulator_url}/v1/events",
        params={"type": event_type, "limit": 100},
        headers=auth,
        timeout=10,
    )
    listing.raise_for_status()
    bodies = []
    for event in listing.json()["data"]:
        if event["data"]["object"].get("id") == object_id:
            raw = requests.get(
                f"{stripe_emulator_url}/v1/events/{event['id']}", headers=auth, timeout=10
            )
            raw.raise_for_status()
            bodies.append(json.dumps(raw.json()).encode())
    return bodies
