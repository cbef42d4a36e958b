"""Licensing test helpers: datasets published through the API (ingestion checks, staff
approval), terms accepted through the API. The parties are the root fixtures (tests/conftest.py).
"""

from marketplace.models import Dataset
from tests.catalogue_helpers import make_archive, publish_dataset
from tests.parties import Party


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
