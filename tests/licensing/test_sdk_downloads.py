"""The unmodified official SDK (datacollective 0.7.0) downloading from our live server and the
moto S3 server: free, restricted, paid and private datasets, samples, and an interrupted
download that the SDK resumes with a Range request. Only the client side is interfered with (a
Ctrl-C in the middle of the byte stream)."""

import hashlib
from pathlib import Path

import datacollective as dc
import pytest
import requests
from datacollective.errors import DownloadError

from licensing.models import DownloadSession, Grant
from licensing.selectors import dataset_terms
from licensing.services.access_requests import access_request_create, access_request_decide
from licensing.services.grants import grant_issue
from marketplace.actors import actor_for_key
from tests.catalogue_helpers import make_archive
from tests.licensing.conftest import accept_terms, publish
from tests.sdk.conftest import mdc  # noqa: F401 - the SDK environment fixture

MiB = 1024 * 1024


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class StorageGets:
    """Watches the requests the SDK sends (module-level `requests.request`): records the
    headers of each GET of a download URL, and can press Ctrl-C after `interrupt_after` chunks
    of the byte stream have been written."""

    def __init__(self, monkeypatch, storage_url: str):
        self.storage_url = storage_url
        self.gets: list[dict] = []
        self.interrupt_after: int | None = None
        original_request = requests.request
        original_iter = requests.models.Response.iter_content
        watcher = self

        def request(method, url, **kwargs):
            if method.upper() == "GET" and url.startswith(storage_url):
                watcher.gets.append(dict(kwargs.get("headers") or {}))
            return original_request(method, url, **kwargs)

        def iter_content(response, *args, **kwargs):
            chunks = original_iter(response, *args, **kwargs)
            if watcher.interrupt_after is None or not response.url.startswith(storage_url):
                yield from chunks
                return
            for n, chunk in enumerate(chunks):
                if n == watcher.interrupt_after:
                    raise KeyboardInterrupt("Ctrl-C during the download")
                yield chunk

        monkeypatch.setattr(requests, "request", request)
        monkeypatch.setattr(requests.models.Response, "iter_content", iter_content)


@pytest.fixture
def storage_gets(monkeypatch, local_services):
    return StorageGets(monkeypatch, local_services["s3"])


def test_free_public_dataset_after_accepting_terms(mdc, provider, buyer, tmp_path):  # noqa: F811
    data = make_archive(300_000, seed=b"sdk free")
    dataset = publish(provider, "SDK free speech", data=data)
    mdc.use_key(buyer.secret)
    with pytest.raises(PermissionError) as refused:
        dc.download_dataset(dataset.public_id, show_progress=False)
    assert "terms" in str(refused.value) and dataset_terms(dataset).hash in str(refused.value)

    accept_terms(buyer, dataset)
    path = dc.download_dataset(dataset.slug, download_directory=str(tmp_path), show_progress=False)
    details = dc.get_dataset_details(dataset.public_id)
    assert path == tmp_path / details.filename
    assert sha256_of(path) == details.checksum == hashlib.sha256(data).hexdigest()
    session = DownloadSession.objects.get()
    assert session.organization_id == buyer.org.pk and session.basis == "free"
    assert session.source_function == "download_dataset"
    assert session.user_agent.startswith("datacollective-python/0.7.0")


def test_restricted_dataset_before_and_after_approval(mdc, provider, buyer, tmp_path):  # noqa: F811
    dataset = publish(provider, "SDK restricted", visibility="restricted")
    mdc.use_key(buyer.secret)
    with pytest.raises(PermissionError) as refused:
        dc.download_dataset(dataset.public_id, show_progress=False)
    assert "restricted" in str(refused.value)

    request, _ = access_request_create(
        actor=actor_for_key(buyer.key),
        dataset=dataset,
        name="Ada",
        organization_name="Lab",
        intended_use="Benchmarking ASR",
    )
    with pytest.raises(PermissionError, match="pending"):
        dc.download_dataset(dataset.public_id, show_progress=False)
    access_request_decide(actor=actor_for_key(provider.key), access_request=request, approve=True)
    with pytest.raises(PermissionError, match="terms"):
        dc.download_dataset(dataset.public_id, show_progress=False)
    accept_terms(buyer, dataset)
    path = dc.download_dataset(
        dataset.public_id, download_directory=str(tmp_path), show_progress=False
    )
    assert sha256_of(path) == dataset.latest_version.sha256


def test_paid_dataset_402_until_granted(mdc, provider, buyer, tmp_path):  # noqa: F811
    dataset = publish(provider, "SDK paid", isPaid=True, basePriceCents=1_999)
    terms_hash = accept_terms(buyer, dataset)
    mdc.use_key(buyer.secret)
    with pytest.raises(requests.HTTPError) as unpaid:
        dc.download_dataset(dataset.public_id, show_progress=False)
    assert unpaid.value.response.status_code == 402
    assert "paid" in str(unpaid.value)

    grant_issue(
        organization=buyer.org,
        dataset=dataset,
        terms_hash=terms_hash,
        source=Grant.Source.PURCHASE,
        actor=buyer.user,
        price_paid_cents=2_099,
    )
    path = dc.download_dataset(
        dataset.public_id, download_directory=str(tmp_path), show_progress=False
    )
    assert sha256_of(path) == dataset.latest_version.sha256
    assert DownloadSession.objects.get().basis == "grant"


def test_interrupted_download_is_resumed_and_complete(
    mdc,  # noqa: F811
    provider,
    buyer,
    tmp_path,
    storage_gets,
):
    data = make_archive(3 * MiB, seed=b"resume me")
    dataset = publish(provider, "SDK resume", data=data)
    accept_terms(buyer, dataset)
    mdc.use_key(buyer.secret)
    filename = dataset.latest_version.filename
    checksum = dataset.latest_version.sha256

    # Ctrl-C after 10 chunks of 64 KiB: the SDK keeps the .part and .checksum files.
    storage_gets.interrupt_after = 10
    with pytest.raises(DownloadError) as interrupted:
        dc.download_dataset(
            dataset.public_id, download_directory=str(tmp_path), show_progress=False
        )
    assert isinstance(interrupted.value.__cause__, KeyboardInterrupt)
    part = tmp_path / f"{filename}.part"
    assert part.stat().st_size == 10 * 64 * 1024
    assert (tmp_path / f"{filename}.checksum").read_text() == checksum
    assert not (tmp_path / filename).exists()

    # The next call resumes: a new session, then a Range request for the missing bytes only.
    storage_gets.interrupt_after = None
    path = dc.download_dataset(
        dataset.public_id, download_directory=str(tmp_path), show_progress=False
    )
    assert [g.get("Range") for g in storage_gets.gets] == [None, f"bytes={10 * 64 * 1024}-"]
    assert sha256_of(path) == checksum == hashlib.sha256(data).hexdigest()
    assert not part.exists() and not (tmp_path / f"{filename}.checksum").exists()
    assert DownloadSession.objects.filter(dataset=dataset).count() == 2


def test_download_sample(mdc, provider, buyer, tmp_path):  # noqa: F811
    sample_bytes = make_archive(20_000, seed=b"sdk sample")
    dataset = publish(provider, "SDK sample", sample=sample_bytes, isPaid=True, basePriceCents=900)
    without = publish(provider, "SDK no sample")
    mdc.use_key(buyer.secret)
    with pytest.raises(PermissionError, match="terms"):
        dc.download_sample(dataset.public_id, show_progress=False)
    accept_terms(buyer, dataset)
    path = dc.download_sample(
        dataset.public_id, download_directory=str(tmp_path), show_progress=False
    )
    assert path == tmp_path / "samples" / dataset.public_id / dataset.latest_version.sample_filename
    assert path.read_bytes() == sample_bytes
    assert DownloadSession.objects.get().source_function == "download_sample"

    accept_terms(buyer, without)
    with pytest.raises(FileNotFoundError):
        dc.download_sample(without.public_id, show_progress=False)


def test_private_dataset_is_unknown_to_the_sdk(mdc, provider, buyer, tmp_path):  # noqa: F811
    """Security finding 11: a private dataset is 404 to everyone outside its organisation. The
    SDK asks E3 without its key, so it cannot tell the owner from an outsider either: owners
    download their private datasets through the API with their key (or the web)."""
    dataset = publish(provider, "SDK private", visibility="private")
    for secret in (buyer.secret, provider.secret):
        mdc.use_key(secret)
        with pytest.raises(FileNotFoundError):
            dc.download_dataset(dataset.public_id, show_progress=False)
    assert not DownloadSession.objects.exists()
    response = provider.client.post(f"/api/datasets/{dataset.public_id}/download")
    assert response.status_code == 200 and response.json()["filename"]
