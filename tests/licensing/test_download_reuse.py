"""Security finding 9: a presigned download URL is a bearer credential, so the few seconds of
reuse that save signing work are per organisation: another organisation never receives a URL
(or an expiry) signed for the first one; each gets its own."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from licensing.models import DownloadSession
from tests.licensing.conftest import accept_terms, publish

pytestmark = pytest.mark.django_db


def download(party, dataset) -> dict:
    response = party.client.post(f"/api/datasets/{dataset.public_id}/download")
    assert response.status_code == 200, response.json()
    return response.json()


def signed_at(url: str) -> str:
    return parse_qs(urlsplit(url).query)["X-Amz-Date"][0]


def next_second() -> None:
    """Wait until the clock's second changes: a URL signed from now on differs from one signed
    before (S3 signatures carry their signing second), so a reused URL shows."""
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.02)


def test_another_organisation_never_gets_a_url_signed_for_the_first(
    settings, provider, buyer, outsider
):
    settings.DOWNLOAD_URL_REUSE_SECONDS = 30
    dataset = publish(provider, "Shared corpus")
    accept_terms(buyer, dataset)
    accept_terms(outsider, dataset)

    first = download(buyer, dataset)
    again = download(buyer, dataset)
    # Within the organisation the URL is still reused (the saving the cache exists for) ...
    assert again["downloadUrl"] == first["downloadUrl"]
    next_second()
    other = download(outsider, dataset)
    # ... but the other organisation gets a URL of its own, signed for it, with its own expiry.
    assert other["downloadUrl"] != first["downloadUrl"]
    assert signed_at(other["downloadUrl"]) > signed_at(first["downloadUrl"])
    assert other["expiresAt"] > first["expiresAt"]
    sessions = {
        s.public_id: s.organization_id for s in DownloadSession.objects.filter(dataset=dataset)
    }
    assert sessions[other["sessionId"]] == outsider.org.pk
    assert sessions[first["sessionId"]] == buyer.org.pk
    # The first organisation keeps its own reused URL; the other keeps its own too.
    assert download(buyer, dataset)["downloadUrl"] == first["downloadUrl"]
    assert download(outsider, dataset)["downloadUrl"] == other["downloadUrl"]
