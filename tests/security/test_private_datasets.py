"""A private dataset does not exist for anyone outside its organisation: every endpoint under
/api/datasets/<id>..., orders and the web pages answer 404 by id and by slug, never a reduced
record naming its files (security finding 11)."""

import pytest
from django.test import Client

from licensing.models import AccessRequest, DownloadSession, Order, TermsAcceptance
from tests.assertions import assert_error
from tests.catalogue_helpers import api, make_archive
from tests.licensing.conftest import publish

pytestmark = pytest.mark.django_db

GETS = ["", "/croissant", "/terms", "/downloads", "/shares"]
POSTS = {
    "/terms": {"termsHash": "0" * 64},
    "/access-requests": {"name": "Me", "organizationName": "Us", "intendedUse": "Research"},
    "/download": {},
    "/sample-download": {},
}


@pytest.fixture
def private(provider):
    return publish(
        provider, "Internal clinic notes", visibility="private", sample=make_archive(700)
    )


def _assert_nothing_leaks(response, dataset):
    body = assert_error(response, 404, "not_found")
    text = response.content.decode()
    for secret in (
        dataset.latest_version.filename,
        dataset.latest_version.sha256,
        dataset.name,
        "private",
    ):
        assert secret not in text, (secret, body)


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_every_dataset_endpoint_is_404_to_outsiders(who, private, outsider):
    client = api() if who == "anonymous" else outsider.client
    for ref in (private.public_id, private.slug):
        for suffix in GETS:
            response = client.get(f"/api/datasets/{ref}{suffix}")
            if who == "anonymous" and response.status_code == 401:
                continue  # the endpoint needs a key at all: nothing is said about the dataset
            _assert_nothing_leaks(response, private)
        if who == "outsider":
            for suffix, body in POSTS.items():
                response = client.post(f"/api/datasets/{ref}{suffix}", body, format="json")
                _assert_nothing_leaks(response, private)
    assert not DownloadSession.objects.exists()
    assert not AccessRequest.objects.exists()
    assert not TermsAcceptance.objects.exists()


def test_an_order_for_a_private_dataset_is_404(private, outsider):
    response = outsider.client.post(
        "/api/orders",
        {"datasetId": private.public_id},
        format="json",
        HTTP_IDEMPOTENCY_KEY="private-1",
    )
    _assert_nothing_leaks(response, private)
    assert not Order.objects.exists()


def test_members_still_see_everything(private, provider):
    for ref in (private.public_id, private.slug):
        card = provider.client.get(f"/api/datasets/{ref}")
        assert card.status_code == 200 and card.json()["filename"]
        assert provider.client.get(f"/api/datasets/{ref}/croissant").status_code == 200
        assert provider.client.get(f"/api/datasets/{ref}/terms").status_code == 200
    download = provider.client.post(f"/api/datasets/{private.public_id}/download")
    assert download.status_code == 200


def test_the_web_terms_page_is_404_to_outsiders(private, outsider, provider):
    browser = Client()
    browser.force_login(outsider.user)
    for ref in (private.public_id, private.slug):
        response = browser.get(f"/datasets/{ref}/terms")
        assert response.status_code == 404
        assert private.name not in response.content.decode()
        assert private.latest_version.filename not in response.content.decode()
    member = Client()
    member.force_login(provider.user)
    assert member.get(f"/datasets/{private.public_id}/terms").status_code == 200


def test_a_removed_private_dataset_is_still_404_to_outsiders(private, outsider, provider):
    """Removed: 410 to its organisation, but an outsider learns nothing, not even that it was
    removed."""
    from django.utils import timezone

    type(private).objects.filter(pk=private.pk).update(removed_at=timezone.now())
    for ref in (private.public_id, private.slug):
        for suffix in ("/terms", "/downloads"):
            _assert_nothing_leaks(outsider.client.get(f"/api/datasets/{ref}{suffix}"), private)
        for suffix, body in POSTS.items():
            response = outsider.client.post(f"/api/datasets/{ref}{suffix}", body, format="json")
            _assert_nothing_leaks(response, private)
    assert_error(provider.client.get(f"/api/datasets/{private.public_id}/terms"), 410)
