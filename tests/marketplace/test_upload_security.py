"""Issue 11, security findings 2 and 3 and dynamic finding 9: a submission's files are frozen
while it is submitted, checked or in review, and approval publishes only checked files; part URLs
sign the declared part length, part numbers and sizes are bounded by the file's size, the quota
and the open sessions of an organisation hold under concurrent starts; file names keep their
archive suffix. Through the API, with the bytes PUT to the real moto server."""

import hashlib
import hmac
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection
from rest_framework.test import APIClient

from marketplace.actors import actor_for_key
from marketplace.models import CheckRun, FileUpload, Submission
from marketplace.services.errors import Invalid
from marketplace.services.ingestion import (
    check_run_execute,
    check_run_fail,
    submission_checks_conclude,
)
from marketplace.services.review import submission_approve
from marketplace.services.submissions import submission_after_submit, submission_submit
from marketplace.services.uploads.start import safe_filename
from tests.assertions import assert_error
from tests.catalogue_helpers import (
    DATASHEET,
    MiB,
    make_archive,
    open_multipart_ids,
    put_part,
    upload_bytes,
)
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def new_submission(client, name="Welsh read speech", datasheet=False) -> str:
    response = client.post("/api/submissions", {"name": name}, format="json")
    assert response.status_code == 201, response.json()
    sid = response.json()["submission"]["id"]
    if datasheet:
        assert client.patch(f"/api/submissions/{sid}", DATASHEET, format="json").status_code == 200
    return sid


def start(client, sid, size, *, base="/api/uploads", filename="data.tar.gz"):
    return client.post(
        base,
        {
            "submissionId": sid,
            "filename": filename,
            "fileSize": size,
            "mimeType": "application/gzip",
        },
        format="json",
    )


def sample_base(sid: str) -> str:
    return f"/api/submissions/{sid}/sample"


# --- F2: files frozen while submitted / checking / in review --------------------------------


def test_sample_upload_cannot_complete_or_start_while_in_review(provider):
    """A sample upload started on a draft cannot be slipped in after submission: the reviewer
    would approve checks of files that are not the ones published."""
    client = provider.client
    sid = new_submission(client, datasheet=True)
    upload_bytes(client, sid, make_archive())
    sample = make_archive(20_000, seed=b"sample")
    started, body = upload_bytes(
        client, sid, sample, base=sample_base(sid), filename="s.tar.gz", complete=False
    )
    response = client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    assert response.status_code == 200, response.json()
    assert Submission.objects.get(public_id=sid).status == Submission.Status.IN_REVIEW

    error = assert_error(
        client.post(f"{sample_base(sid)}/{started['fileUploadId']}", body, format="json"),
        409,
        "submission_under_review",
    )
    assert "in_review" in error["message"]
    upload = FileUpload.objects.get(public_id=started["fileUploadId"])
    assert upload.state == FileUpload.State.UPLOADING and not upload.declared_sha256
    assert Submission.objects.get(public_id=sid).sample_upload_id is None
    # Nor can a new one start, of either kind; nothing is left in storage for them.
    assert_error(start(client, sid, 1000, base=sample_base(sid)), 409, "submission_under_review")
    assert_error(start(client, sid, 1000), 409, "submission_under_review")
    assert FileUpload.objects.filter(submission__public_id=sid).count() == 2
    assert open_multipart_ids(f"uploads/{provider.org.pk}/{sid}/") == {started["uploadId"]}


@pytest.mark.parametrize("status", [Submission.Status.SUBMITTED, Submission.Status.CHECKING])
def test_completion_refused_while_submitted_or_checking(provider, status):
    client = provider.client
    sid = new_submission(client)
    started, body = upload_bytes(client, sid, make_archive(), complete=False)
    # The worker's states, which the committing test client passes through at once.
    Submission.objects.filter(public_id=sid).update(status=status)
    assert_error(
        client.post(f"/api/uploads/{started['fileUploadId']}", body, format="json"),
        409,
        "submission_under_review",
    )
    assert Submission.objects.get(public_id=sid).file_upload_id is None
    # After the decision (here: back to draft) the same completion goes through.
    Submission.objects.filter(public_id=sid).update(status=Submission.Status.DRAFT)
    done = client.post(f"/api/uploads/{started['fileUploadId']}", body, format="json")
    assert done.status_code == 200, done.json()


def _submitted_without_running_checks(provider, data: bytes, sample: bytes) -> Submission:
    """Submit through the services outside the committing client: the check runs are queued
    and nobody runs them, so the test runs each one itself."""
    client = provider.client
    sid = new_submission(client, datasheet=True)
    upload_bytes(client, sid, data)
    upload_bytes(client, sid, sample, base=sample_base(sid), filename="sample.tar.gz")
    submission = submission_submit(actor=actor_for_key(provider.key), submission_id=sid, agree=True)
    return submission_after_submit(submission_pk=submission.pk)


def test_approval_requires_the_samples_checks_to_have_passed(provider):
    submission = _submitted_without_running_checks(
        provider, make_archive(), make_archive(20_000, seed=b"sample")
    )
    dataset_run = CheckRun.objects.get(upload=submission.file_upload)
    sample_run = CheckRun.objects.get(upload=submission.sample_upload)
    check_run_execute(run_pk=dataset_run.pk)
    check_run_fail(run_pk=sample_run.pk, error="EndpointConnectionError: storage unreachable")
    submission = submission_checks_conclude(submission_pk=submission.pk)
    # An `error` run goes to review (staff can re-run it), but is not a verified file.
    assert submission.status == Submission.Status.IN_REVIEW
    with pytest.raises(Invalid) as refused:
        submission_approve(submission=submission, actor=make_user(is_staff=True))
    assert refused.value.code == "checks_not_passed" and "sample" in refused.value.message
    assert not submission.versions.exists()


def test_approval_publishes_the_samples_verified_checksum(provider):
    data, sample = make_archive(), make_archive(20_000, seed=b"sample")
    submission = _submitted_without_running_checks(provider, data, sample)
    for run in CheckRun.objects.filter(submission=submission).order_by("pk"):
        check_run_execute(run_pk=run.pk)
    submission = submission_checks_conclude(submission_pk=submission.pk)
    assert submission.status == Submission.Status.IN_REVIEW
    # What the client declared is its word, not a verified fact: the version never takes it.
    FileUpload.objects.filter(pk=submission.sample_upload_id).update(declared_sha256="0" * 64)
    version = submission_approve(submission=submission, actor=make_user(is_staff=True))
    sample_run = CheckRun.objects.get(upload=submission.sample_upload)
    assert version.sample_sha256 == sample_run.verified_sha256
    assert version.sample_sha256 == hashlib.sha256(sample).hexdigest()
    assert version.sample_size_bytes == len(sample)


# --- F3: part lengths, part counts, quota under a lock, open sessions ------------------------


def _signature_matches(url: str, *, method: str, content_length: int | None) -> bool:
    """Whether a presigned SigV4 URL's signature is valid for a request carrying this
    Content-Length, computed as S3 does (moto does not check signatures at all, so this is the
    check real storage would make)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    signature = query.pop("X-Amz-Signature")[0]
    signed = query["X-Amz-SignedHeaders"][0].split(";")
    headers = {"host": parts.netloc}
    if content_length is not None:
        headers["content-length"] = str(content_length)
    if set(signed) - set(headers):
        return False
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v[0], safe='-_.~')}" for k, v in sorted(query.items())
    )
    canonical_headers = "".join(f"{h}:{headers[h]}\n" for h in signed)
    canonical = "\n".join(
        [
            method,
            parts.path,
            canonical_query,
            canonical_headers,
            ";".join(signed),
            "UNSIGNED-PAYLOAD",
        ]
    )
    credential = query["X-Amz-Credential"][0]
    _, date, region, service, _ = credential.split("/")
    scope = "/".join([date, region, service, "aws4_request"])
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            query["X-Amz-Date"][0],
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + django_settings.AWS_SECRET_ACCESS_KEY).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(
        hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), signature
    )


def test_declared_part_size_signs_each_parts_exact_length(provider):
    client = provider.client
    size = 11 * MiB  # parts of 5 MiB: 5 + 5 + 1
    fid = start(client, new_submission(client), size).json()["fileUploadId"]
    part_urls = f"/api/uploads/{fid}/parts"

    first = client.get(f"{part_urls}/1?partSize={5 * MiB}")
    assert first.status_code == 200, first.json()
    url = first.json()["url"]
    assert parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"] == ["content-length;host"]
    assert _signature_matches(url, method="PUT", content_length=5 * MiB)
    assert not _signature_matches(url, method="PUT", content_length=5 * MiB + 1)
    assert FileUpload.objects.get(public_id=fid).part_size == 5 * MiB

    # Later requests sign from the stored size, declared again or not; the last part is short.
    last = client.get(f"{part_urls}/3").json()["url"]
    assert _signature_matches(last, method="PUT", content_length=1 * MiB)
    assert not _signature_matches(last, method="PUT", content_length=5 * MiB)
    assert_error(client.get(f"{part_urls}/4?partSize={5 * MiB}"), 422, "invalid_part_number")
    body = assert_error(client.get(f"{part_urls}/2?partSize={6 * MiB}"), 409, "part_size_mismatch")
    assert body["partSize"] == 5 * MiB
    assert_error(client.get(f"{part_urls}/1?partSize=1000"), 422, "invalid_part_size")
    assert_error(client.get(f"{part_urls}/1?partSize=abc"), 400)


def test_without_a_declared_part_size_the_url_signs_no_length_and_still_works(provider):
    """The SDK 0.7.0 never declares its part size: its URLs carry no length (moto and S3 take
    any), so its parts are bounded by the number of parts and checked at completion."""
    client = provider.client
    data = os.urandom(5 * MiB + 10)
    fid = start(client, new_submission(client), len(data)).json()["fileUploadId"]
    url = client.get(f"/api/uploads/{fid}/parts/1").json()["url"]
    assert parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"] == ["host"]
    assert _signature_matches(url, method="PUT", content_length=None)
    assert FileUpload.objects.get(public_id=fid).part_size is None
    body = assert_error(client.get(f"/api/uploads/{fid}/parts/3"), 422, "invalid_part_number")
    assert body["maxPartNumber"] == 2


@pytest.mark.parametrize(
    ("size", "max_parts"), [(1, 1), (5 * MiB, 1), (5 * MiB + 1, 2), (50 * 1000**3, 9537)]
)
def test_part_numbers_are_capped_by_the_file_size(provider, size, max_parts):
    client = provider.client
    fid = start(client, new_submission(client), size).json()["fileUploadId"]
    assert client.get(f"/api/uploads/{fid}/parts/{max_parts}").status_code == 200
    body = assert_error(
        client.get(f"/api/uploads/{fid}/parts/{max_parts + 1}"), 422, "invalid_part_number"
    )
    assert body["maxPartNumber"] == max_parts


def test_completion_refuses_parts_of_uneven_sizes(provider):
    """Sizes the SDK would never send (6 + 5 + 5 MiB): refused at completion (422), and the
    upload stays completable with the right parts."""
    client = provider.client
    data = os.urandom(16 * MiB)
    started = start(client, new_submission(client), len(data)).json()
    fid = started["fileUploadId"]
    cuts = [(0, 6 * MiB), (6 * MiB, 11 * MiB), (11 * MiB, 16 * MiB)]
    parts = [
        {"partNumber": n, "etag": put_part(client, fid, n, data[a:b])}
        for n, (a, b) in enumerate(cuts, start=1)
    ]
    body = {
        "uploadId": started["uploadId"],
        "parts": parts,
        "checksum": hashlib.sha256(data).hexdigest(),
    }
    error = assert_error(client.post(f"/api/uploads/{fid}", body, format="json"), 422)
    assert error["error"] == "part_size_mismatch" and error["partSize"] == 6 * MiB
    assert FileUpload.objects.get(public_id=fid).state == FileUpload.State.UPLOADING


def test_completion_refuses_parts_that_differ_from_the_declared_size(provider):
    """moto stores a part of any length on a URL that signed another one (it checks no
    signature); completion then refuses what storage holds (real S3 refuses the PUT itself)."""
    client = provider.client
    data = os.urandom(10 * MiB + 1)
    started = start(client, new_submission(client), len(data)).json()
    fid = started["fileUploadId"]
    url = client.get(f"/api/uploads/{fid}/parts/1?partSize={5 * MiB}").json()["url"]
    etag1 = requests.put(url, data=data[: 5 * MiB + 1], timeout=60).headers["ETag"].strip('"')
    etag2 = put_part(client, fid, 2, data[5 * MiB + 1 :])
    body = {
        "uploadId": started["uploadId"],
        "parts": [{"partNumber": 1, "etag": etag1}, {"partNumber": 2, "etag": etag2}],
        "checksum": hashlib.sha256(data).hexdigest(),
    }
    error = assert_error(client.post(f"/api/uploads/{fid}", body, format="json"), 422)
    assert error["error"] == "part_size_mismatch" and error["partSize"] == 5 * MiB


def test_open_upload_sessions_per_organisation_are_limited(provider, settings):
    settings.UPLOAD_OPEN_SESSIONS_MAX = 2
    client = provider.client
    sids = [new_submission(client, name=f"s{n}") for n in range(3)]
    first = start(client, sids[0], 1000).json()
    assert start(client, sids[1], 1000).status_code == 201
    body = assert_error(start(client, sids[2], 1000), 409, "too_many_open_uploads")
    assert body["limit"] == 2 and body["openUploads"] == 2
    assert not FileUpload.objects.filter(submission__public_id=sids[2]).exists()
    assert open_multipart_ids(f"uploads/{provider.org.pk}/{sids[2]}/") == set()
    # Restarting an upload supersedes the earlier one: not a new session.
    assert start(client, sids[0], 1000).status_code == 201
    # Aborting one frees its slot.
    assert client.delete(f"/api/uploads/{first['fileUploadId']}").status_code in (200, 204)
    aborted = start(client, sids[0], 1000).json()
    assert client.delete(f"/api/uploads/{aborted['fileUploadId']}").status_code in (200, 204)
    assert start(client, sids[2], 1000).status_code == 201


def _concurrently(secret: str, calls: list) -> list:
    """Run each call with its own client and database connection, all released at once."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        try:
            barrier.wait(timeout=30)
            return call(client)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_cannot_exceed_the_quota(provider, settings):
    settings.ORG_STORAGE_QUOTA_BYTES = 1000
    sids = [new_submission(provider.client, name=f"s{n}") for n in range(4)]
    responses = _concurrently(
        provider.secret, [lambda c, sid=sid: start(c, sid, 600) for sid in sids]
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 422, 422, 422], [r.json() for r in responses]
    assert {r.json()["error"] for r in responses if r.status_code == 422} == {"quota_exceeded"}
    assert FileUpload.objects.filter(organization=provider.org).count() == 1
    assert len(open_multipart_ids(f"uploads/{provider.org.pk}/")) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_cannot_exceed_the_open_sessions_limit(provider, settings):
    settings.UPLOAD_OPEN_SESSIONS_MAX = 2
    sids = [new_submission(provider.client, name=f"s{n}") for n in range(5)]
    responses = _concurrently(
        provider.secret, [lambda c, sid=sid: start(c, sid, 1000) for sid in sids]
    )
    assert sorted(r.status_code for r in responses) == [201, 201, 409, 409, 409]
    assert FileUpload.objects.filter(organization=provider.org).count() == 2
    assert len(open_multipart_ids(f"uploads/{provider.org.pk}/")) == 2


# --- D9: file names keep their archive suffix -------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (".tar.gz", "archive.tar.gz"),
        ("..tar.gz", "archive.tar.gz"),
        ("data.tar.gz", "data.tar.gz"),
        ("My Data (v2).TAR.GZ", "My_Data_v2_.tar.gz"),
        ("données été.tgz", "donn_es_t_.tgz"),
        ("C:\\Users\\ann\\.hidden.tar.gz", "hidden.tar.gz"),
        ("../../etc/passwd.tar.gz", "passwd.tar.gz"),
        ("x" * 240 + ".tar.gz", "x" * 180 + ".tar.gz"),
    ],
    ids=["suffix-only", "dots", "plain", "spaces", "accents", "windows-path", "path", "long"],
)
def test_filename_sanitising_keeps_the_archive_suffix(provider, given, stored):
    assert safe_filename(given) == stored
    client = provider.client
    response = start(client, new_submission(client), 1000, filename=given)
    assert response.status_code == 201, response.json()
    upload = FileUpload.objects.get(public_id=response.json()["fileUploadId"])
    assert upload.filename == stored and upload.key.endswith("/" + stored)
