"""Submissions (E7–E10) and direct-to-storage uploads (U1–U4, S1–S4) through the API, with the
bytes PUT to the real moto server on presigned URLs."""

import hashlib
import logging
import os
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace.models import AuditEvent, DatasetVersion, FileUpload, Submission
from marketplace.services.errors import Conflict
from marketplace.services.identity import organization_decide_upload_access
from marketplace.services.review import submission_approve, submission_reject
from marketplace.services.submissions import submission_after_submit
from marketplace.services.uploads import file_uploads_expire
from marketplace.storage import bucket, s3_client
from tests.assertions import assert_error
from tests.catalogue_helpers import (
    DATASHEET,
    MiB,
    api,
    make_archive,
    object_exists,
    open_multipart_ids,
    publish_dataset,
    put_part,
    upload_bytes,
)
from tests.factories import make_key, make_user

pytestmark = pytest.mark.django_db


# --- helpers ---------------------------------------------------------------------------------


def new_submission(client, name="Welsh read speech") -> str:
    response = client.post("/api/submissions", {"name": name}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["submission"]["id"]


def start(client, sid, size, *, filename="data.tar.gz", mime="application/gzip", base=None):
    return client.post(
        base or "/api/uploads",
        {"submissionId": sid, "filename": filename, "fileSize": size, "mimeType": mime},
        format="json",
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def three_parts():
    """Bytes of a 3-part upload at the SDK's minimum part size (5 MiB, 5 MiB, 1 MiB)."""
    data = os.urandom(11 * MiB)
    return data, [data[: 5 * MiB], data[5 * MiB : 10 * MiB], data[10 * MiB :]]


# --- U1: start -------------------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["data.zip", "data.tar", "data.gz", "tar.gz"])
def test_start_rejects_non_tar_gz_names(provider, filename):
    key, client = provider.key, provider.client
    sid = new_submission(client)
    body = assert_error(start(client, sid, 1000, filename=filename), 422, "unsupported_file_type")
    assert ".tar.gz" in body["message"] and filename in body["message"]
    assert not FileUpload.objects.filter(submission__public_id=sid).exists()
    assert open_multipart_ids(f"uploads/{key.organization_id}/") == set()


@pytest.mark.parametrize("filename", ["data.tar.gz", "DATA.TGZ"])
def test_start_accepts_tar_gz_and_tgz(provider, filename):
    client = provider.client
    sid = new_submission(client)
    response = start(client, sid, 1000, filename=filename)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert isinstance(body["fileUploadId"], str) and body["fileUploadId"]
    assert isinstance(body["uploadId"], str) and body["uploadId"]
    upload = FileUpload.objects.get(public_id=body["fileUploadId"])
    assert open_multipart_ids(upload.key) == {body["uploadId"]}


@pytest.mark.parametrize(
    "mime", ["application/zip", "application/x-tar", "application/octet-stream", "text/plain"]
)
def test_start_rejects_other_mime_types(provider, mime):
    key, client = provider.key, provider.client
    sid = new_submission(client)
    body = assert_error(start(client, sid, 1000, mime=mime), 422, "unsupported_file_type")
    assert "mimeType" in body["message"]
    assert not FileUpload.objects.filter(submission__public_id=sid).exists()
    assert open_multipart_ids(f"uploads/{key.organization_id}/") == set()


@pytest.mark.parametrize("size", [0, -1, -(10**12)])
def test_start_rejects_non_positive_sizes(provider, size):
    key, client = provider.key, provider.client
    sid = new_submission(client)
    body = assert_error(start(client, sid, size), 422)
    assert "fileSize" in body["message"]
    assert not FileUpload.objects.filter(submission__public_id=sid).exists()
    assert open_multipart_ids(f"uploads/{key.organization_id}/") == set()


def test_start_enforces_the_per_upload_cap(provider, settings):
    key, client = provider.key, provider.client
    settings.UPLOAD_MAX_BYTES = 10_000
    sid = new_submission(client)
    body = assert_error(start(client, sid, 10_001), 422, "file_too_large")
    assert body["limitBytes"] == 10_000
    assert not FileUpload.objects.filter(submission__public_id=sid).exists()
    assert open_multipart_ids(f"uploads/{key.organization_id}/") == set()
    # The cap itself is allowed.
    assert start(client, sid, 10_000).status_code == 201


def test_start_enforces_the_organisation_quota(provider, settings):
    key, client = provider.key, provider.client
    settings.ORG_STORAGE_QUOTA_BYTES = 10_000
    # Another organisation's usage does not count against ours.
    other_secret, _ = make_key(uploads=True)
    other = api(other_secret)
    assert start(other, new_submission(other), 9_000).status_code == 201

    first = new_submission(client, "First")
    live = start(client, first, 6_000)
    assert live.status_code == 201
    second = new_submission(client, "Second")
    body = assert_error(start(client, second, 4_001), 422, "quota_exceeded")
    assert body["usedBytes"] == 6_000 and body["quotaBytes"] == 10_000
    assert not FileUpload.objects.filter(submission__public_id=second).exists()
    # Only the live upload of the first submission is open in storage.
    assert open_multipart_ids(f"uploads/{key.organization_id}/") == {live.json()["uploadId"]}
    assert start(client, second, 4_000).status_code == 201


def test_completed_uploads_count_against_the_quota_until_their_submission_is_deleted(
    provider, settings
):
    client = provider.client
    data = make_archive(20_000)
    first = new_submission(client, "First")
    upload_bytes(client, first, data)
    settings.ORG_STORAGE_QUOTA_BYTES = len(data) + 1_000
    second = new_submission(client, "Second")
    assert_error(start(client, second, 1_001), 422, "quota_exceeded")
    assert client.delete(f"/api/submissions/{first}").status_code == 204
    assert start(client, second, 1_001).status_code == 201


def test_restarting_an_upload_does_not_count_the_one_it_supersedes(provider, settings):
    """A client that lost its state starts again on the same submission: the unfinished
    upload it replaces is aborted, so it must not count against the quota."""
    client = provider.client
    settings.ORG_STORAGE_QUOTA_BYTES = 10_000
    sid = new_submission(client)
    old = start(client, sid, 8_000)
    assert old.status_code == 201
    again = start(client, sid, 8_000)
    assert again.status_code == 201, again.json()
    assert FileUpload.objects.get(public_id=old.json()["fileUploadId"]).state == "aborted"
    # The replacement itself counts.
    body = assert_error(start(client, new_submission(client), 2_001), 422, "quota_exceeded")
    assert body["usedBytes"] == 8_000


# --- U2: part URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize("number", [0, -1, 10001])
def test_part_number_out_of_range(provider, number):
    client = provider.client
    fid = start(client, new_submission(client), 1000).json()["fileUploadId"]
    body = assert_error(client.get(f"/api/uploads/{fid}/parts/{number}"), 422)
    assert body["error"] == "invalid_part_number"
    assert str(number) in body["message"]


@pytest.mark.parametrize(("number", "size"), [(1, 1000), (10000, 10000 * 5 * MiB)])
def test_part_number_in_range_gets_a_presigned_url(provider, number, size):
    """In range: 1..10 000 and no more parts than the file can have (each but the last ≥ 5 MiB:
    part 10 000 needs a file of more than 9 999 × 5 MiB)."""
    client = provider.client
    started = start(client, new_submission(client), size).json()
    response = client.get(f"/api/uploads/{started['fileUploadId']}/parts/{number}")
    assert response.status_code == 200, response.json()
    url = response.json()["url"]
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).scheme in ("http", "https")
    assert query["partNumber"] == [str(number)] and query["uploadId"] == [started["uploadId"]]
    # The URL really accepts that part's bytes (no auth header, no Content-Type).
    put = requests.put(url, data=b"x" * 1000, timeout=30)
    assert put.status_code == 200 and put.headers["ETag"]
    parts = s3_client().list_parts(
        Bucket=bucket(),
        Key=FileUpload.objects.get(public_id=started["fileUploadId"]).key,
        UploadId=started["uploadId"],
    )["Parts"]
    assert [p["PartNumber"] for p in parts] == [number]


# --- U4: completion ---------------------------------------------------------------------------


def test_missing_part_then_completable(provider, three_parts):
    client = provider.client
    data, chunks = three_parts
    sid = new_submission(client)
    started = start(client, sid, len(data)).json()
    fid = started["fileUploadId"]
    etags = {1: put_part(client, fid, 1, chunks[0]), 3: put_part(client, fid, 3, chunks[2])}
    body = {
        "uploadId": started["uploadId"],
        "parts": [{"partNumber": n, "etag": etags.get(n, "0" * 32)} for n in (1, 2, 3)],
        "checksum": sha(data),
    }
    error = assert_error(client.post(f"/api/uploads/{fid}", body, format="json"), 422)
    assert error["error"] == "missing_parts" and error["missingParts"] == [2]
    assert FileUpload.objects.get(public_id=fid).state == "uploading"

    etags[2] = put_part(client, fid, 2, chunks[1])
    body["parts"] = [{"partNumber": n, "etag": etags[n]} for n in (1, 2, 3)]
    done = client.post(f"/api/uploads/{fid}", body, format="json")
    assert done.status_code == 200, done.json()
    upload = FileUpload.objects.get(public_id=fid)
    assert upload.state == "completed" and upload.stored_size == len(data)
    assert upload.declared_sha256 == sha(data)
    assert Submission.objects.get(public_id=sid).file_upload == upload
    stored = s3_client().get_object(Bucket=bucket(), Key=upload.key)["Body"].read()
    assert sha(stored) == sha(data)


def test_completion_validation_errors_leave_the_upload_completable(provider, three_parts):
    client = provider.client
    data, chunks = three_parts
    started = start(client, new_submission(client), len(data)).json()
    fid = started["fileUploadId"]
    etags = [put_part(client, fid, n, chunk) for n, chunk in enumerate(chunks, start=1)]
    good = {
        "uploadId": started["uploadId"],
        "parts": [{"partNumber": n, "etag": e} for n, e in enumerate(etags, start=1)],
        "checksum": sha(data),
    }
    url = f"/api/uploads/{fid}"

    wrong_etag = {**good, "parts": [*good["parts"][:2], {"partNumber": 3, "etag": "f" * 32}]}
    assert assert_error(client.post(url, wrong_etag, format="json"), 422)["error"] == (
        "etag_mismatch"
    )
    for numbers in ([1, 3], [2, 3, 4], [1, 2, 2], [3, 2, 1], [1, 2]):
        parts = [{"partNumber": n, "etag": etags[min(n, 3) - 1]} for n in numbers]
        response = client.post(url, {**good, "parts": parts}, format="json")
        assert_error(response, 422, "invalid_parts")
    for checksum in ("abc", "g" * 64, sha(data)[:-1], sha(data) + "0", f"sha256:{sha(data)}"):
        response = client.post(url, {**good, "checksum": checksum}, format="json")
        assert assert_error(response, 422)["message"].startswith("checksum:")
    # An empty checksum is malformed input (the serializer's 400, naming the field).
    response = client.post(url, {**good, "checksum": ""}, format="json")
    assert assert_error(response, 400)["message"].startswith("checksum:")
    assert_error(
        client.post(url, {**good, "uploadId": "not-the-upload"}, format="json"),
        409,
        "upload_id_mismatch",
    )
    assert FileUpload.objects.get(public_id=fid).state == "uploading"
    assert client.post(url, good, format="json").status_code == 200


def test_completion_with_a_size_different_from_the_declared_one(provider):
    client = provider.client
    data = make_archive(30_000)
    started = start(client, new_submission(client), len(data) + 1).json()
    fid = started["fileUploadId"]
    etag = put_part(client, fid, 1, data)
    body = {
        "uploadId": started["uploadId"],
        "parts": [{"partNumber": 1, "etag": etag}],
        "checksum": sha(data),
    }
    error = assert_error(client.post(f"/api/uploads/{fid}", body, format="json"), 422)
    assert error["error"] == "size_mismatch"
    assert error["storedBytes"] == len(data) and error["declaredBytes"] == len(data) + 1
    assert FileUpload.objects.get(public_id=fid).state == "uploading"


def test_parts_below_the_minimum_size_are_refused(provider):
    client = provider.client
    data = os.urandom(5 * MiB + 1)  # room for two parts, so the second part URL is granted
    started = start(client, new_submission(client), len(data)).json()
    fid = started["fileUploadId"]
    etags = [put_part(client, fid, 1, data[:1]), put_part(client, fid, 2, data[1:])]
    body = {
        "uploadId": started["uploadId"],
        "parts": [{"partNumber": n, "etag": e} for n, e in enumerate(etags, start=1)],
        "checksum": sha(data),
    }
    assert_error(client.post(f"/api/uploads/{fid}", body, format="json"), 422, "part_too_small")


def test_completion_is_idempotent(provider):
    client = provider.client
    sid = new_submission(client)
    data = make_archive(40_000)
    started, body = upload_bytes(client, sid, data)
    fid = started["fileUploadId"]
    again = client.post(f"/api/uploads/{fid}", body, format="json")
    assert again.status_code == 200, again.json()
    assert again.json()["fileUploadId"] == fid and again.json()["checksum"] == sha(data)
    upload = FileUpload.objects.get(public_id=fid)
    assert (
        AuditEvent.objects.filter(action="upload.complete", object_id=str(upload.pk)).count() == 1
    )

    other_checksum = {**body, "checksum": sha(b"something else")}
    assert_error(client.post(f"/api/uploads/{fid}", other_checksum, format="json"), 409)
    upload.refresh_from_db()
    assert upload.declared_sha256 == sha(data)
    # A completed upload hands out no more part URLs.
    assert_error(client.get(f"/api/uploads/{fid}/parts/1"), 409, "upload_completed")


def test_completion_reads_no_bytes_from_storage(provider, three_parts, caplog):
    """Completion answers in the same time whatever the size: it asks storage for the part list
    and the object's metadata, never for the object's bytes. Observed on the moto server's own
    request log, so any client (ours or another) would be seen."""
    client = provider.client
    data, chunks = three_parts
    started = start(client, new_submission(client), len(data)).json()
    fid = started["fileUploadId"]
    etags = [put_part(client, fid, n, chunk) for n, chunk in enumerate(chunks, start=1)]
    upload = FileUpload.objects.get(public_id=fid)
    body = {
        "uploadId": started["uploadId"],
        "parts": [{"partNumber": n, "etag": e} for n, e in enumerate(etags, start=1)],
        "checksum": sha(data),
    }
    caplog.set_level(logging.INFO, logger="werkzeug")
    caplog.clear()
    assert client.post(f"/api/uploads/{fid}", body, format="json").status_code == 200
    line = re.compile(r'"([A-Z]+) (\S+) HTTP/')
    colour = re.compile(r"\x1b\[[0-9;]*m")  # werkzeug colours lines of non-200 answers
    requests_seen = []
    for record in caplog.records:
        message = colour.sub("", record.getMessage())
        if record.name == "werkzeug" and (match := line.search(message)):
            requests_seen.append(match.groups())
    ours = [(m, p) for m, p in requests_seen if p.startswith(f"/{bucket()}/{upload.key}")]
    # The log is really observed: the part listing (a GET with uploadId) and the completion.
    assert any(m == "GET" and "uploadId=" in p for m, p in ours), requests_seen
    assert any(m == "POST" and "uploadId=" in p for m, p in ours), requests_seen
    object_reads = [p for m, p in ours if m == "GET" and "uploadId=" not in p]
    assert object_reads == []


# --- expiry and supersession ------------------------------------------------------------------


def test_superseded_expired_and_swept_uploads(provider, django_capture_on_commit_callbacks):
    client = provider.client
    sid = new_submission(client)
    first = start(client, sid, 6 * MiB).json()
    put_part(client, first["fileUploadId"], 1, os.urandom(5 * MiB))
    first_upload = FileUpload.objects.get(public_id=first["fileUploadId"])
    assert open_multipart_ids(first_upload.key) == {first["uploadId"]}

    # A new U1 for the same submission supersedes the unfinished one.
    second = start(client, sid, 6 * MiB).json()
    first_upload.refresh_from_db()
    assert first_upload.state == "aborted"
    assert open_multipart_ids(first_upload.key) == set()
    assert_error(client.get(f"/api/uploads/{first['fileUploadId']}/parts/2"), 410)
    complete_first = {
        "uploadId": first["uploadId"],
        "parts": [{"partNumber": 1, "etag": "0" * 32}],
        "checksum": "0" * 64,
    }
    assert_error(
        client.post(f"/api/uploads/{first['fileUploadId']}", complete_first, format="json"), 410
    )

    # The second one expires: its part URLs are refused before the sweeper runs...
    second_upload = FileUpload.objects.get(public_id=second["fileUploadId"])
    assert client.get(f"/api/uploads/{second['fileUploadId']}/parts/1").status_code == 200
    FileUpload.objects.filter(pk=second_upload.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert_error(
        client.get(f"/api/uploads/{second['fileUploadId']}/parts/1"), 410, "upload_expired"
    )
    assert open_multipart_ids(second_upload.key) == {second["uploadId"]}

    # ...and the sweeper marks it expired and aborts the storage upload.
    with django_capture_on_commit_callbacks(execute=True):
        assert file_uploads_expire() == 1
    second_upload.refresh_from_db()
    assert second_upload.state == "expired"
    assert open_multipart_ids(second_upload.key) == set()
    assert_error(
        client.get(f"/api/uploads/{second['fileUploadId']}/parts/1"), 410, "upload_expired"
    )
    # Running it again finds nothing more to do.
    with django_capture_on_commit_callbacks(execute=True):
        assert file_uploads_expire() == 0


# --- E7: upload rights ------------------------------------------------------------------------


def test_create_requires_upload_access_and_a_key_made_after_approval():
    secret, key = make_key(uploads=False)
    org, user = key.organization, key.user
    assert_error(
        api(secret).post("/api/submissions", {"name": "X"}, format="json"),
        403,
        "upload_access_required",
    )
    organization_decide_upload_access(organization=org, approve=True, actor=None)
    assert_error(
        api(secret).post("/api/submissions", {"name": "X"}, format="json"),
        403,
        "key_predates_upload_approval",
    )
    new_secret, _ = make_key(org=org, user=user)
    response = api(new_secret).post("/api/submissions", {"name": "  Welsh speech "}, format="json")
    assert response.status_code == 201, response.json()
    submission = response.json()["submission"]
    assert isinstance(submission["id"], str) and submission["status"] == "draft"
    assert submission["name"] == "Welsh speech"
    assert (
        not Submission.objects.filter(organization=org).exclude(public_id=submission["id"]).exists()
    )


def test_create_validates_the_name(provider):
    client = provider.client
    for body in ({}, {"name": ""}, {"name": "   "}):
        response = client.post("/api/submissions", body, format="json")
        assert response.status_code in (400, 422), response.content
        assert "name" in response.json()["message"]


# --- other organisations ----------------------------------------------------------------------


def test_another_organisations_submission_is_404(provider):
    client = provider.client
    sid = new_submission(client)
    client.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
    upload_bytes(client, sid, make_archive(10_000))
    other_secret, _ = make_key(uploads=True)
    other = api(other_secret)

    assert_error(other.get(f"/api/submissions/{sid}"), 404, "not_found")
    assert_error(other.patch(f"/api/submissions/{sid}", {"name": "Mine"}, format="json"), 404)
    assert_error(other.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json"), 404)
    assert_error(other.delete(f"/api/submissions/{sid}"), 404)
    assert_error(start(other, sid, 1000), 404)

    submission = Submission.objects.get(public_id=sid)
    assert submission.name == "Welsh read speech" and submission.status == "draft"
    assert client.get(f"/api/submissions/{sid}").status_code == 200


def test_another_organisations_upload_is_404(provider):
    client = provider.client
    data = make_archive(10_000)
    started = start(client, new_submission(client), len(data)).json()
    fid = started["fileUploadId"]
    etag = put_part(client, fid, 1, data)
    body = {
        "uploadId": started["uploadId"],
        "parts": [{"partNumber": 1, "etag": etag}],
        "checksum": sha(data),
    }
    other = api(make_key(uploads=True)[0])
    assert_error(other.get(f"/api/uploads/{fid}/parts/1"), 404)
    assert_error(other.post(f"/api/uploads/{fid}", body, format="json"), 404)
    assert FileUpload.objects.get(public_id=fid).state == "uploading"
    assert client.post(f"/api/uploads/{fid}", body, format="json").status_code == 200


def test_sample_routes_of_another_organisations_submission_are_404(provider):
    client = provider.client
    sid = new_submission(client)
    sample = make_archive(5_000)
    base = f"/api/submissions/{sid}/sample"
    started = start(client, sid, len(sample), base=base, filename="sample.tar.gz").json()
    fid = started["fileUploadId"]
    etag = put_part(client, fid, 1, sample, base=base)
    body = {
        "uploadId": started["uploadId"],
        "parts": [{"partNumber": 1, "etag": etag}],
        "checksum": sha(sample),
    }

    other = api(make_key(uploads=True)[0])
    assert_error(start(other, sid, 1000, base=base, filename="s.tar.gz"), 404)
    assert_error(other.get(f"{base}/{fid}/parts/1"), 404)
    assert_error(other.post(f"{base}/{fid}", body, format="json"), 404)
    # Another organisation's own upload cannot be addressed under our submission either.
    other_sid = new_submission(other)
    other_base = f"/api/submissions/{other_sid}/sample"
    other_fid = start(other, other_sid, 1000, base=other_base, filename="s.tar.gz").json()[
        "fileUploadId"
    ]
    assert_error(other.get(f"{base}/{other_fid}/parts/1"), 404)
    # A sample upload is not reachable through the dataset routes, nor under another submission.
    assert_error(client.get(f"/api/uploads/{fid}/parts/1"), 404)
    assert_error(client.get(f"/api/submissions/{new_submission(client)}/sample/{fid}/parts/1"), 404)

    assert client.post(f"{base}/{fid}", body, format="json").status_code == 200
    submission = Submission.objects.get(public_id=sid)
    assert submission.sample_upload.public_id == fid and submission.file_upload is None


# --- E8: update -------------------------------------------------------------------------------


def test_update_validation(provider):
    client = provider.client
    sid = new_submission(client)
    url = f"/api/submissions/{sid}"

    body = assert_error(client.patch(url, {"isPaid": True, "currency": "usd"}, format="json"), 422)
    assert "basePriceCents" in body["message"]
    body = assert_error(
        client.patch(url, {"isPaid": True, "basePriceCents": 10}, format="json"), 422
    )
    assert "basePriceCents" in body["message"]
    body = assert_error(
        client.patch(
            url, {"isPaid": True, "basePriceCents": 1999, "currency": "eur"}, format="json"
        ),
        422,
    )
    assert "currency" in body["message"]

    body = assert_error(client.patch(url, {"task": "SPEECH"}, format="json"), 400)
    assert body["message"].startswith("task:") and "task" in body["fields"]
    body = assert_error(client.patch(url, {"visibility": "secret"}, format="json"), 400)
    assert body["message"].startswith("visibility:") and "visibility" in body["fields"]

    # Nothing above was stored.
    submission = Submission.objects.get(public_id=sid)
    assert (submission.is_paid, submission.task, submission.visibility) == (False, "", "public")

    ok = client.patch(
        url, {**DATASHEET, "isPaid": True, "basePriceCents": 1999, "currency": "usd"}, format="json"
    )
    assert ok.status_code == 200, ok.json()
    wire = ok.json()["submission"]
    assert wire["task"] == "ASR" and wire["isPaid"] is True and wire["basePriceCents"] == 1999
    # Repeating the same PATCH (what a resumed SDK run does) is fine.
    assert client.patch(url, DATASHEET, format="json").status_code == 200


def test_update_is_refused_while_submitted_in_review_and_once_published(provider):
    secret, client = provider.secret, provider.client
    sid = new_submission(client)
    assert client.patch(f"/api/submissions/{sid}", DATASHEET, format="json").status_code == 200
    upload_bytes(client, sid, make_archive(10_000))
    # A plain client: the review worker has not picked the submission up yet.
    raw = APIClient()
    raw.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert (
        raw.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json").json()[
            "submission"
        ]["status"]
        == "submitted"
    )
    assert_error(
        client.patch(f"/api/submissions/{sid}", {"name": "X"}, format="json"),
        403,
        "submission_locked",
    )

    # The worker's steps: the automatic checks, then review.
    with TestCase.captureOnCommitCallbacks(execute=True):
        submission_after_submit(submission_pk=Submission.objects.get(public_id=sid).pk)
        assert Submission.objects.get(public_id=sid).status == "checking"
        assert_error(
            client.patch(f"/api/submissions/{sid}", {"name": "X"}, format="json"),
            403,
            "submission_locked",
        )
    assert Submission.objects.get(public_id=sid).status == "in_review"
    assert_error(
        client.patch(f"/api/submissions/{sid}", {"name": "X"}, format="json"),
        403,
        "submission_locked",
    )

    submission_approve(submission=Submission.objects.get(public_id=sid), actor=make_user())
    assert_error(
        client.patch(f"/api/submissions/{sid}", {"name": "X"}, format="json"),
        403,
        "submission_published",
    )
    assert Submission.objects.get(public_id=sid).name == "Welsh read speech"


def test_rejected_submission_can_be_edited_and_shows_the_review_note(provider):
    client = provider.client
    sid = new_submission(client)
    client.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
    upload_bytes(client, sid, make_archive(10_000))
    assert (
        client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json").status_code
        == 200
    )
    submission_reject(
        submission=Submission.objects.get(public_id=sid),
        actor=make_user(is_staff=True),
        reason="The licence does not match the recordings.",
    )
    shown = client.get(f"/api/submissions/{sid}").json()["submission"]
    assert shown["status"] == "rejected"
    assert shown["reviewNote"] == "The licence does not match the recordings."

    edited = client.patch(
        f"/api/submissions/{sid}", {"licenseAbbreviation": "CC0-1.0"}, format="json"
    )
    assert edited.status_code == 200, edited.json()
    assert edited.json()["submission"]["status"] == "draft"
    resubmitted = client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    assert resubmitted.status_code == 200, resubmitted.json()
    assert Submission.objects.get(public_id=sid).status == "in_review"


# --- E9: submit -------------------------------------------------------------------------------


def test_submit_names_what_is_missing_and_refuses_a_second_submit(provider):
    client = provider.client
    sid = new_submission(client)
    url = f"/api/submissions/{sid}"
    body = assert_error(client.post(url, {"agreeToSubmit": True}, format="json"), 422)
    for field in ("shortDescription", "locale", "task", "licenseAbbreviation"):
        assert field in body["message"] and field in body["missing"]
    assert "a completed dataset upload" in body["missing"]

    client.patch(url, DATASHEET, format="json")
    body = assert_error(client.post(url, {"agreeToSubmit": True}, format="json"), 422)
    assert body["missing"] == ["a completed dataset upload"]
    assert "upload" in body["message"]

    # An upload that was started but not completed does not count.
    data = make_archive(10_000)
    upload_bytes(client, sid, data, complete=False)
    body = assert_error(client.post(url, {"agreeToSubmit": True}, format="json"), 422)
    assert body["missing"] == ["a completed dataset upload"]

    upload_bytes(client, sid, data)
    assert_error(client.post(url, {"agreeToSubmit": False}, format="json"), 422)
    submitted = client.post(url, {"agreeToSubmit": True}, format="json")
    assert submitted.status_code == 200, submitted.json()
    assert submitted.json()["submission"]["status"] == "submitted"
    assert submitted.json()["submission"]["submittedAt"]
    assert_error(client.post(url, {"agreeToSubmit": True}, format="json"), 409, "already_submitted")


# --- E10: delete ------------------------------------------------------------------------------


def test_delete_draft_removes_its_files_and_later_calls_are_410(provider):
    key, client = provider.key, provider.client
    sid = new_submission(client)
    started, _ = upload_bytes(client, sid, make_archive(20_000))
    dataset_upload = FileUpload.objects.get(public_id=started["fileUploadId"])
    assert object_exists(dataset_upload.key)
    base = f"/api/submissions/{sid}/sample"
    sample = start(client, sid, 6 * MiB, base=base, filename="sample.tar.gz").json()
    put_part(client, sample["fileUploadId"], 1, os.urandom(5 * MiB), base=base)
    sample_upload = FileUpload.objects.get(public_id=sample["fileUploadId"])
    assert open_multipart_ids(sample_upload.key) == {sample["uploadId"]}

    assert client.delete(f"/api/submissions/{sid}").status_code == 204

    assert not object_exists(dataset_upload.key)
    assert open_multipart_ids(f"uploads/{key.organization_id}/{sid}/") == set()
    sample_upload.refresh_from_db()
    assert sample_upload.state == "aborted"

    url = f"/api/submissions/{sid}"
    assert_error(client.get(url), 410)
    assert_error(client.patch(url, {"name": "Again"}, format="json"), 410)
    assert_error(client.post(url, {"agreeToSubmit": True}, format="json"), 410)
    assert_error(client.delete(url), 410)
    assert_error(start(client, sid, 1000), 410)
    assert_error(start(client, sid, 1000, base=base, filename="s.tar.gz"), 410)
    assert_error(client.get(f"{base}/{sample['fileUploadId']}/parts/2"), 410)


def test_delete_of_a_published_submission_is_refused(provider):
    secret, client = provider.secret, provider.client
    data = make_archive(10_000)
    sid, version = publish_dataset(secret, data=data)
    assert_error(client.delete(f"/api/submissions/{sid}"), 403, "submission_published")
    assert Submission.objects.get(public_id=sid).status == "approved"
    assert object_exists(version.archive_key)
    assert api().get(f"/api/datasets/{version.dataset.public_id}").status_code == 200


def test_delete_in_review_discards_the_file_and_blocks_approval(provider):
    client = provider.client
    sid = new_submission(client)
    client.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
    started, _ = upload_bytes(client, sid, make_archive(10_000))
    client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    assert Submission.objects.get(public_id=sid).status == "in_review"
    assert client.delete(f"/api/submissions/{sid}").status_code == 204
    assert not object_exists(FileUpload.objects.get(public_id=started["fileUploadId"]).key)
    with pytest.raises(Conflict, match="deleted"):
        submission_approve(submission=Submission.objects.get(public_id=sid), actor=make_user())


# --- new versions -----------------------------------------------------------------------------


def test_new_upload_on_a_published_submission_becomes_version_2_after_review(provider):
    secret, client = provider.secret, provider.client
    v1_data = make_archive(10_000)
    sid, v1 = publish_dataset(secret, data=v1_data)
    dataset = v1.dataset
    assert v1.filename == f"{dataset.slug}-v1.tar.gz"

    v2_data = make_archive(30_000)
    upload_bytes(client, sid, v2_data)
    submission = Submission.objects.get(public_id=sid)
    assert submission.status == "in_review"
    # Until approved the catalogue keeps serving version 1.
    card = api().get(f"/api/datasets/{dataset.public_id}").json()
    assert (card["filename"], card["checksum"], card["sizeBytes"]) == (
        v1.filename,
        sha(v1_data),
        len(v1_data),
    )

    v2 = submission_approve(submission=submission, actor=make_user(is_staff=True))
    assert v2.number == 2 and v2.dataset_id == dataset.pk
    assert v2.filename == f"{dataset.slug}-v2.tar.gz"
    card = api().get(f"/api/datasets/{dataset.slug}").json()
    assert (card["filename"], card["checksum"], card["sizeBytes"]) == (
        v2.filename,
        sha(v2_data),
        len(v2_data),
    )
    assert card["id"] == dataset.public_id
    # Version 1 is untouched, and its bytes are still stored.
    old = DatasetVersion.objects.get(pk=v1.pk)
    assert (old.number, old.filename, old.sha256, old.size_bytes) == (
        1,
        v1.filename,
        sha(v1_data),
        len(v1_data),
    )
    assert object_exists(old.archive_key) and object_exists(v2.archive_key)
    assert old.archive_key != v2.archive_key
    assert api().get("/api/datasets").json()["total"] == 1
