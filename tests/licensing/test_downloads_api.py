"""MDC E4/E6 download sessions through the API client: every status of the contract, the
presigned URL (bytes, SHA-256, Range, Content-Disposition, TTL), the session record, and the
owners' download history."""

import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing.models import DownloadSession, Grant, License
from licensing.selectors import dataset_terms
from licensing.services.access_requests import access_request_create, access_request_decide
from licensing.services.grants import grant_issue, grant_revoke
from marketplace.actors import actor_for_key, actor_for_member
from marketplace.services.review import dataset_remove
from tests.assertions import assert_error
from tests.catalogue_helpers import api, make_archive
from tests.factories import make_user
from tests.licensing.conftest import accept_terms, publish
from tests.parties import party

pytestmark = pytest.mark.django_db

SDK_UA = "datacollective-python/0.7.0 (Python 3.11.7; Linux) source function: download_dataset"


def download(who, dataset, **extra):
    return who.client.post(f"/api/datasets/{dataset.public_id}/download", **extra)


def sample(who, dataset, **extra):
    return who.client.post(f"/api/datasets/{dataset.public_id}/sample-download", **extra)


def fetch(url: str, **headers) -> requests.Response:
    response = requests.get(url, headers=headers, timeout=30)
    assert response.status_code in (200, 206), response.text[:300]
    return response


def test_free_public_dataset_needs_accepted_terms_only(settings, provider, buyer):
    settings.PRESIGNED_DOWNLOAD_TTL_SECONDS = 120
    data = make_archive(40_000, seed=b"free")
    dataset = publish(provider, "Free speech", data=data)
    body = assert_error(download(buyer, dataset), 403, "terms_not_accepted")
    assert "terms" in body["message"] and body["termsHash"] == dataset_terms(dataset).hash

    accept_terms(buyer, dataset)
    before = timezone.now()
    response = download(buyer, dataset, HTTP_USER_AGENT=SDK_UA, REMOTE_ADDR="192.0.2.10")
    assert response.status_code == 200, response.json()
    offer = response.json()
    card = api().get(f"/api/datasets/{dataset.public_id}").json()
    assert offer["checksum"] == card["checksum"] == hashlib.sha256(data).hexdigest()
    assert offer["sizeBytes"] == len(data) and isinstance(offer["sizeBytes"], int)
    assert offer["filename"] == card["filename"]
    expires = timezone.datetime.fromisoformat(offer["expiresAt"])
    assert before + timedelta(seconds=119) <= expires <= timezone.now() + timedelta(seconds=121)
    query = parse_qs(urlparse(offer["downloadUrl"]).query)
    assert query["X-Amz-Expires"] == ["120"]

    got = fetch(offer["downloadUrl"])
    assert hashlib.sha256(got.content).hexdigest() == offer["checksum"]
    assert got.headers["Content-Disposition"] == f'attachment; filename="{offer["filename"]}"'
    assert "Content-Encoding" not in got.headers
    part = fetch(offer["downloadUrl"], Range="bytes=1000-")
    assert part.status_code == 206 and part.content == data[1000:]
    assert part.headers["Content-Range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"

    session = DownloadSession.objects.get(public_id=offer["sessionId"])
    assert (session.organization, session.user, session.api_key) == (
        buyer.org,
        buyer.user,
        buyer.key,
    )
    assert session.version == dataset.latest_version and session.kind == "dataset"
    assert session.basis == "free" and session.ip == "192.0.2.10"
    assert session.user_agent == SDK_UA and session.source_function == "download_dataset"


def test_errors_of_the_contract(provider, buyer, reviewer):
    dataset = publish(provider)
    response = api("dc_abc_def").post(f"/api/datasets/{dataset.public_id}/download")
    assert_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_error(api().post(f"/api/datasets/{dataset.public_id}/download"), 401)
    assert_error(buyer.client.post("/api/datasets/dsunknown0000000000000/download"), 404)
    dataset_remove(dataset=dataset, actor=reviewer, reason="Takedown")
    assert_error(download(buyer, dataset), 410)
    assert_error(sample(buyer, dataset), 410)
    assert_error(download(provider, dataset), 410)
    assert not DownloadSession.objects.exists()


def test_owner_downloads_without_terms_grant_or_approval(provider):
    for visibility, paid in (("private", False), ("restricted", True), ("public", True)):
        sheet = {"visibility": visibility}
        if paid:
            sheet |= {"isPaid": True, "basePriceCents": 500}
        dataset = publish(provider, f"Own {visibility}", **sheet)
        response = download(provider, dataset)
        assert response.status_code == 200, response.json()
    assert set(DownloadSession.objects.values_list("basis", flat=True)) == {"owner"}


def test_private_dataset_of_another_organisation(provider, buyer):
    dataset = publish(provider, "Internal", visibility="private")
    # Security finding 11: outsiders learn nothing of a private dataset, not even that it is.
    body = assert_error(download(buyer, dataset), 404, "not_found")
    assert "private" not in body["message"]
    assert_error(sample(buyer, dataset), 404, "not_found")
    assert not DownloadSession.objects.exists()
    assert_error(buyer.client.post(f"/api/datasets/{dataset.slug}/download"), 404)


def test_restricted_dataset_needs_an_approved_request_and_terms(provider, buyer):
    dataset = publish(provider, "Clinic", visibility="restricted", sample=make_archive(900))
    body = assert_error(download(buyer, dataset), 403, "access_not_approved")
    assert "restricted" in body["message"] and "access-requests" in body["message"]
    request, _ = access_request_create(
        actor=actor_for_key(buyer.key),
        dataset=dataset,
        name="Ada",
        organization_name="Lab",
        intended_use="Research",
    )
    assert "pending" in assert_error(download(buyer, dataset), 403)["message"]
    access_request_decide(
        actor=actor_for_key(provider.key),
        access_request=request,
        approve=False,
        reason="Unclear purpose",
    )
    assert "Unclear purpose" in assert_error(download(buyer, dataset), 403)["message"]
    access_request_decide(actor=actor_for_key(provider.key), access_request=request, approve=True)
    assert_error(download(buyer, dataset), 403, "terms_not_accepted")
    # The sample needs the terms, not the approval (MDC E6).
    other = party()
    assert_error(sample(other, dataset), 403, "terms_not_accepted")
    accept_terms(other, dataset)
    assert sample(other, dataset).status_code == 200
    assert_error(download(other, dataset), 403, "access_not_approved")

    accept_terms(buyer, dataset)
    assert download(buyer, dataset).status_code == 200


def test_paid_dataset_needs_an_active_grant(provider, buyer):
    dataset = publish(provider, "Paid", isPaid=True, basePriceCents=1_000, sample=make_archive(900))
    assert_error(download(buyer, dataset), 403, "terms_not_accepted")
    terms_hash = accept_terms(buyer, dataset)
    body = assert_error(download(buyer, dataset), 402, "payment_required")
    assert body["pricing"]["totalPriceCents"] == 1_050 and "10.50 USD" in body["message"]
    # The sample never needs a purchase.
    sample_offer = sample(buyer, dataset).json()
    assert "checksum" not in sample_offer and sample_offer["filename"].endswith("-sample.tar.gz")

    grant = grant_issue(
        organization=buyer.org,
        dataset=dataset,
        terms_hash=terms_hash,
        source=Grant.Source.PURCHASE,
        actor=None,
        price_paid_cents=1_050,
    )
    # Every member's key of the buying organisation may download.
    from marketplace.services.identity import api_key_create, membership_add

    colleague = make_user()
    membership_add(organization=buyer.org, user=colleague)
    colleague_key = api_key_create(
        actor=actor_for_member(user=colleague, organization=buyer.org)
    ).secret
    response = api(colleague_key).post(f"/api/datasets/{dataset.public_id}/download")
    assert response.status_code == 200
    session = DownloadSession.objects.get(public_id=response.json()["sessionId"])
    assert session.basis == "grant" and session.grant == grant and session.user == colleague

    grant_revoke(grant=grant, actor=None, reason="Refund")
    assert_error(download(buyer, dataset), 402)
    later = grant_issue(
        organization=buyer.org,
        dataset=dataset,
        terms_hash=terms_hash,
        source=Grant.Source.STAFF,
        actor=None,
        expires_at=timezone.now() + timedelta(days=1),
    )
    assert download(buyer, dataset).status_code == 200
    Grant.objects.filter(pk=later.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(download(buyer, dataset), 402)


def test_changed_terms_must_be_accepted_again(provider, buyer):
    dataset = publish(provider, "Terms change", licenseAbbreviation="MIT")
    accept_terms(buyer, dataset)
    assert download(buyer, dataset).status_code == 200
    License.objects.filter(identifier="MIT", organization__isnull=True).update(
        notes="Clarified by staff."
    )
    assert_error(download(buyer, dataset), 403, "terms_not_accepted")
    accept_terms(buyer, dataset)
    assert download(buyer, dataset).status_code == 200


def test_sample_download(provider, buyer):
    without = publish(provider, "No sample")
    accept_terms(buyer, without)
    body = assert_error(sample(buyer, without), 404, "no_sample")
    assert "sample" in body["message"]

    sample_bytes = make_archive(1_500, seed=b"sample")
    dataset = publish(provider, "With sample", sample=sample_bytes)
    accept_terms(buyer, dataset)
    offer = sample(
        buyer, dataset, HTTP_USER_AGENT=SDK_UA.replace("download_dataset", "download_sample")
    )
    assert offer.status_code == 200
    offer = offer.json()
    assert "checksum" not in offer and offer["sizeBytes"] == len(sample_bytes)
    assert "/" not in offer["filename"] and not offer["filename"].startswith(".")
    assert fetch(offer["downloadUrl"]).content == sample_bytes
    session = DownloadSession.objects.get(public_id=offer["sessionId"])
    assert (session.kind, session.basis, session.source_function) == (
        "sample",
        "sample",
        "download_sample",
    )


def test_download_history_is_for_the_owner_only(provider, buyer, outsider):
    dataset = publish(provider, "Popular")
    url = f"/api/datasets/{dataset.public_id}/downloads"
    accept_terms(buyer, dataset)
    download(buyer, dataset, HTTP_USER_AGENT=SDK_UA)
    # The downloader, another organisation and anonymous callers learn nothing.
    assert_error(buyer.client.get(url), 404)
    assert_error(outsider.client.get(url), 404)
    assert_error(api().get(url), 401)

    provider.client.get(url)  # warm-up: the key's first use records last_used_at

    def history(**params):
        with CaptureQueriesContext(connection) as queries:
            response = provider.client.get(url, params)
        assert response.status_code == 200, response.json()
        return response.json(), len(queries)

    one, one_count = history()
    assert one["total"] == 1
    item = one["items"][0]
    assert item["organization"]["slug"] == buyer.org.slug
    assert item["user"]["username"] == buyer.user.username
    assert item["sourceFunction"] == "download_dataset" and item["kind"] == "dataset"
    assert item["version"] == 1 and item["filename"] == dataset.latest_version.filename

    for _ in range(4):
        downloader = party()
        accept_terms(downloader, dataset)
        download(downloader, dataset)
    many, many_count = history(limit=3)
    assert many["total"] == 5 and len(many["items"]) == 3
    # key, dataset, count, page: the same whatever the number of sessions
    assert many_count == one_count <= 4
    assert len(history(limit=3, page=2)[0]["items"]) == 2
    assert history(page=9)[0]["items"] == []
    assert_error(provider.client.get(url, {"limit": 0}), 400)


def test_download_path_reads_the_same_terms_as_the_terms_endpoint(provider, buyer):
    """E4 reads the dataset, license and the caller's facts with its own single query; its
    idea of the current terms must be the terms endpoint's, for every kind of license."""
    sheets = [
        {"licenseAbbreviation": "CC-BY-NC-4.0", "restrictions": "No voice cloning."},
        # Not in the catalogue and not LicenseRef-: still a custom license of its publisher.
        {"licenseAbbreviation": "CC-BY-3.0", "license": "Creative Commons Attribution 3.0"},
        {
            "licenseAbbreviation": "LicenseRef-Own-1",
            "license": "Own license: research only",
            "licenseUrl": "https://own.example/l",
        },
    ]
    for n, sheet in enumerate(sheets):
        dataset = publish(provider, f"Terms path {n}", **sheet)
        expected = api().get(f"/api/datasets/{dataset.public_id}/terms").json()["termsHash"]
        assert assert_error(download(buyer, dataset), 403)["termsHash"] == expected
        accept_terms(buyer, dataset)
        assert download(buyer, dataset).status_code == 200
    # A custom license whose row is missing (published before this app existed) reads as an
    # unreviewed one: the datasheet's text with restrictive flags, on both paths alike.
    before = api().get(f"/api/datasets/{dataset.public_id}/terms").json()
    License.objects.filter(identifier="LicenseRef-Own-1").delete()
    after = api().get(f"/api/datasets/{dataset.public_id}/terms").json()
    assert after["termsHash"] == before["termsHash"] and after["flags"]["commercialUse"] is False
    assert download(buyer, dataset).status_code == 200


def test_download_session_is_two_queries(provider, buyer):
    dataset = publish(provider, "Hot path", isPaid=True, basePriceCents=500)
    terms_hash = accept_terms(buyer, dataset)
    grant_issue(
        organization=buyer.org,
        dataset=dataset,
        terms_hash=terms_hash,
        source=Grant.Source.PURCHASE,
        actor=None,
    )
    download(buyer, dataset)  # warm-up: the key's first use records last_used_at and is cached
    with CaptureQueriesContext(connection) as queries:
        assert download(buyer, dataset).status_code == 200
    # the dataset with its license, the caller's acceptances, grant and access request; the
    # session row (the key comes from the authentication cache)
    assert len(queries) == 2, [q["sql"][:80] for q in queries]


def test_presigned_urls_are_reused_briefly(settings, provider, buyer):
    dataset = publish(provider, "Reused URL")
    accept_terms(buyer, dataset)
    first, second = download(buyer, dataset).json(), download(buyer, dataset).json()
    assert (first["downloadUrl"], first["expiresAt"]) == (
        second["downloadUrl"],
        second["expiresAt"],
    )
    assert first["sessionId"] != second["sessionId"]  # every request is still recorded
    settings.DOWNLOAD_URL_REUSE_SECONDS = 0
    third = download(buyer, dataset).json()
    assert third["expiresAt"] > first["expiresAt"]
    assert hashlib.sha256(fetch(third["downloadUrl"]).content).hexdigest() == third["checksum"]
