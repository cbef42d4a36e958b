"""Licensing test fixtures: organisations and keys built through the identity services, datasets
published through the API (ingestion checks, staff approval), terms accepted through the API."""

import importlib
from dataclasses import dataclass

import pytest
from django.apps import apps

from licensing.models import License
from marketplace.models import ApiKey, Dataset, Organization, User
from tests.catalogue_helpers import api, make_archive, publish_dataset
from tests.factories import make_key, make_user

SEED = importlib.import_module("licensing.migrations.0002_seed_catalogue_licenses")


@pytest.fixture(autouse=True)
def _catalogue_licenses(db):
    """The data migration's licenses. Transactional tests (live server) of any app flush every
    table afterwards, seeded rows included, so they are put back when missing."""
    if License.objects.filter(organization__isnull=True).count() < len(SEED.LICENSES):
        SEED.seed(apps, None)


@dataclass
class Party:
    """An organisation, its owner and the owner's API key."""

    secret: str
    key: ApiKey

    @property
    def org(self) -> Organization:
        return self.key.organization

    @property
    def user(self) -> User:
        return self.key.user

    @property
    def client(self):
        return api(self.secret)


def party(*, uploads=False) -> Party:
    secret, key = make_key(uploads=uploads)
    return Party(secret, key)


@pytest.fixture
def provider() -> Party:
    return party(uploads=True)


@pytest.fixture
def buyer() -> Party:
    return party()


@pytest.fixture
def outsider() -> Party:
    return party()


@pytest.fixture
def reviewer():
    return make_user(is_staff=True)


def publish(provider: Party, name: str = "Welsh read speech", *, size=4_000, **sheet) -> Dataset:
    """Publish a dataset the production way; returns it fresh from the database."""
    data = sheet.pop("data", None) or make_archive(size, seed=name.encode())
    _sid, version = publish_dataset(provider.secret, name=name, data=data, **sheet)
    return Dataset.objects.select_related("latest_version").get(pk=version.dataset_id)


def accept_terms(party: Party, dataset: Dataset) -> str:
    terms = party.client.get(f"/api/datasets/{dataset.public_id}/terms").json()
    response = party.client.post(
        f"/api/datasets/{dataset.public_id}/terms", {"termsHash": terms["termsHash"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    return terms["termsHash"]


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["error"] == code, body
    return body
