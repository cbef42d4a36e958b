import pytest

from tests.catalogue_helpers import api, make_archive, publish_dataset
from tests.factories import make_key

pytestmark = pytest.mark.django_db


def test_publish_flow_and_dataset_card():
    secret, key = make_key(uploads=True)
    data = make_archive(7 * 1024 * 1024)
    sid, version = publish_dataset(secret, data=data, sample=make_archive(1000))
    assert version.number == 1
    card = api().get(f"/api/datasets/{version.dataset.public_id}").json()
    assert card["id"] == version.dataset.public_id
    assert card["filename"] == f"{version.dataset.slug}-v1.tar.gz"
    assert card["sizeBytes"] == len(data)
    assert card["hasSample"] is True
    assert api().get(f"/api/datasets/{version.dataset.slug}").json()["id"] == card["id"]
    listing = api().get("/api/datasets").json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == card["id"]
