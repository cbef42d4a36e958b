"""U2 part URLs on the hot path: storage is asked whether it still holds the multipart upload
at most once per STORAGE_PROBE_CACHE_SECONDS (storage's answer is shared by every web process:
tests/marketplace/test_part_url_probe_shared.py), and again whenever a client asks
again for a part it already got (a retry): a lost upload is still 410 at once for a retried
part, and for any part once the window has passed."""

import pytest

from marketplace.models import FileUpload
from marketplace.storage import bucket, s3_client
from tests.assertions import assert_error
from tests.catalogue_helpers import api

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024


def start_upload(secret: str) -> tuple:
    """A new 40 MiB upload of a new draft: (the API client, its fileUploadId)."""
    client = api(secret)
    sid = client.post("/api/submissions", {"name": "Parts"}, format="json").json()["submission"][
        "id"
    ]
    body = {
        "submissionId": sid,
        "filename": "data.tar.gz",
        "fileSize": 40 * MiB,
        "mimeType": "application/gzip",
    }
    started = client.post("/api/uploads", body, format="json")
    assert started.status_code == 201, started.json()
    return client, started.json()["fileUploadId"]


@pytest.fixture
def upload(provider):
    return start_upload(provider.secret)


def lose_in_storage(file_upload_id: str) -> None:
    row = FileUpload.objects.get(public_id=file_upload_id)
    s3_client().abort_multipart_upload(Bucket=bucket(), Key=row.key, UploadId=row.storage_upload_id)


def test_a_retried_part_is_checked_in_storage_at_once(settings, upload):
    settings.STORAGE_PROBE_CACHE_SECONDS = 3600
    client, fid = upload
    assert client.get(f"/api/uploads/{fid}/parts/1").status_code == 200
    assert client.get(f"/api/uploads/{fid}/parts/2").status_code == 200
    lose_in_storage(fid)
    # A new part within the window is signed from this process's last answer...
    assert client.get(f"/api/uploads/{fid}/parts/3").status_code == 200
    # ...a part asked for again (the client retries it) is checked: 410, start over.
    assert_error(client.get(f"/api/uploads/{fid}/parts/2"), 410, "upload_lost")
    assert_error(client.get(f"/api/uploads/{fid}/parts/4"), 410, "upload_lost")


def test_without_the_window_every_part_is_checked(settings, upload):
    settings.STORAGE_PROBE_CACHE_SECONDS = 0
    client, fid = upload
    assert client.get(f"/api/uploads/{fid}/parts/1").status_code == 200
    lose_in_storage(fid)
    assert_error(client.get(f"/api/uploads/{fid}/parts/2"), 410, "upload_lost")


def test_a_signed_part_url_still_signs_the_declared_length(settings, upload):
    """The web uploader declares its part size: the URL signs each part's exact length."""
    settings.STORAGE_PROBE_CACHE_SECONDS = 3600
    client, fid = upload
    for number in (1, 2):
        url = client.get(f"/api/uploads/{fid}/parts/{number}?partSize={8 * MiB}").json()["url"]
        assert "content-length" in url.lower() and f"partNumber={number}" in url
