import json

import pytest
import requests
from django.conf import settings

from marketplace.models import Dataset
from tests.catalogue_helpers import api, publish_dataset
from tests.factories import make_key
from tests.webhooks import stripe_signature, webhook_post


@pytest.fixture
def dataset(provider) -> Dataset:
    """One dataset the provider (tests/conftest.py) published."""
    _sid, version = publish_dataset(provider.secret)
    return Dataset.objects.get(pk=version.dataset_id)


@pytest.fixture
def owner(provider):
    """The provider's API client: the owner of the dataset."""
    return provider.client


@pytest.fixture
def member_client(provider):
    """A plain (non-owner) member of the provider's organisation."""
    secret, _key = make_key(org=provider.org)
    return api(secret)


def shares_url(dataset) -> str:
    return f"/api/datasets/{dataset.public_id}/shares"


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """POST a signed event to the real receiver and run its after-commit processing (the
    test transaction itself never commits)."""

    def _deliver(payload: bytes):
        with django_capture_on_commit_callbacks(execute=True):
            response = webhook_post(payload, stripe_signature(payload))
        assert response.status_code == 200, response.content
        return response

    return _deliver


def emulator_events(stripe_emulator_url, *, event_type: str, object_id: str) -> list[bytes]:
    """The emulator's own events about one object, as raw JSON bodies (newest first)."""
    auth = {"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"}
    events, params = [], {"type": event_type, "limit": 100}
    while True:  # every page: a long test session makes more than one page of events
        listing = requests.get(
            f"{stripe_emulator_url}/v1/events", params=params, headers=auth, timeout=10
        )
        listing.raise_for_status()
        page = listing.json()
        events += page["data"]
        if not page.get("has_more") or not page["data"]:
            break
        params = {**params, "starting_after": page["data"][-1]["id"]}
    bodies = []
    for event in sorted(events, key=lambda e: e["created"], reverse=True):
        if event["data"]["object"].get("id") == object_id:
            raw = requests.get(
                f"{stripe_emulator_url}/v1/events/{event['id']}", headers=auth, timeout=10
            )
            raw.raise_for_status()
            bodies.append(json.dumps(raw.json()).encode())
    return bodies
