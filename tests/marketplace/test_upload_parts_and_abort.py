"""What a browser needs beyond the MDC upload protocol (the uploader of the "Files" step): the
parts storage holds for an unfinished upload (to resume it), and abandoning an upload. Both for
the dataset archive (/api/uploads/...) and the sample (/api/submissions/{id}/sample/...), with a
Bearer key and with a browser session (CSRF enforced), against the real moto server."""

import hashlib
import os
import re

import pytest
from django.test import Client, TestCase

from marketplace.models import AuditEvent, FileUpload, Submission
from marketplace.services.identity import organization_decide_upload_access
from marketplace.storage import bucket, s3_client
from tests.assertions import assert_error
from tests.catalogue_helpers import (
    MiB,
    api,
    make_archive,
    object_exists,
    open_multipart_ids,
    put_part,
    upload_bytes,
)
from tests.factories import make_key

pytestmark = pytest.mark.django_db

BASES = {
    "dataset": lambda sid: "/api/uploads",
    "sample": lambda sid: f"/api/submissions/{sid}/sample",
}


# --- helpers ---------------------------------------------------------------------------------


def new_submission(client, name="Welsh read speech") -> str:
    response = client.post("/api/submissions", {"name": name}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["submission"]["id"]


def start(client, base: str, sid: str, size: int, filename="data.tar.gz") -> dict:
    response = client.post(
        base,
        {
            "submissionId": sid,
            "filename": filename,
            "fileSize": size,
            "mimeType": "application/gzip",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def browser_session(user) -> tuple[Client, str]:
    """A signed-in browser (CSRF checks on, as a real browser gets them) and its CSRF token,
    taken from a page the way the uploader takes it."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get("/dashboard")
    assert page.status_code == 200
    return client, client.cookies["csrftoken"].value


# --- listing the stored parts ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dataset", "sample"])
def test_listing_shows_the_parts_storage_holds(provider, kind, django_assert_max_num_queries):
    client = provider.client
    sid = new_submission(client)
    base = BASES[kind](sid)
    data = os.urandom(11 * MiB)
    started = start(client, base, sid, len(data), filename="speech.tar.gz")
    fid = started["fileUploadId"]

    empty = client.get(f"{base}/{fid}/parts")
    assert empty.status_code == 200, empty.json()
    assert empty.json()["parts"] == []

    chunks = {1: data[: 5 * MiB], 3: data[10 * MiB :]}
    etags = {n: put_part(client, fid, n, chunk, base=base) for n, chunk in chunks.items()}
    with django_assert_max_num_queries(6):
        response = client.get(f"{base}/{fid}/parts")
    assert response.status_code == 200, response.json()
    body = response.json()
    upload = FileUpload.objects.get(public_id=fid)
    assert body == {
        "fileUploadId": fid,
        "uploadId": started["uploadId"],
        "filename": "speech.tar.gz",
        "fileSize": len(data),
        "state": "uploading",
        "expiresAt": upload.expires_at.isoformat(),
        "parts": [
            {"partNumber": 1, "etag": etags[1], "size": 5 * MiB},
            {"partNumber": 3, "etag": etags[3], "size": 1 * MiB},
        ],
        "assembled": False,
    }
    # The ETag of a part is the MD5 of its bytes: what the uploader compares a resumed file with.
    assert etags[1] == hashlib.md5(chunks[1]).hexdigest()  # noqa: S324

    # The listed ETags are what completion needs.
    etags[2] = put_part(client, fid, 2, data[5 * MiB : 10 * MiB], base=base)
    parts = client.get(f"{base}/{fid}/parts").json()["parts"]
    done = client.post(
        f"{base}/{fid}",
        {
            "uploadId": started["uploadId"],
            "parts": [{"partNumber": p["partNumber"], "etag": p["etag"]} for p in parts],
            "checksum": hashlib.sha256(data).hexdigest(),
        },
        format="json",
    )
    assert done.status_code == 200, done.json()
    # A completed upload lists no parts: storage has assembled them into the file.
    completed = client.get(f"{base}/{fid}/parts")
    assert completed.status_code == 200
    assert completed.json()["state"] == "completed" and completed.json()["parts"] == []


def test_listing_pages_through_storage(provider):
    """ListParts answers at most 1,000 parts a call; an upload may have 10,000."""
    client = provider.client
    sid = new_submission(client)
    started = start(client, "/api/uploads", sid, 1001)
    upload = FileUpload.objects.get(public_id=started["fileUploadId"])
    s3 = s3_client()
    for number in range(1, 1002):
        s3.upload_part(
            Bucket=bucket(),
            Key=upload.key,
            UploadId=upload.storage_upload_id,
            PartNumber=number,
            Body=b"x",
        )
    parts = client.get(f"/api/uploads/{upload.public_id}/parts").json()["parts"]
    assert [p["partNumber"] for p in parts] == list(range(1, 1002))
    assert {p["size"] for p in parts} == {1}


def test_listing_a_superseded_aborted_or_expired_upload_is_410(provider):
    client = provider.client
    sid = new_submission(client)
    first = start(client, "/api/uploads", sid, 1000)["fileUploadId"]
    second = start(client, "/api/uploads", sid, 1000)["fileUploadId"]
    assert_error(client.get(f"/api/uploads/{first}/parts"), 410, "upload_aborted")
    FileUpload.objects.filter(public_id=second).update(state=FileUpload.State.EXPIRED)
    assert_error(client.get(f"/api/uploads/{second}/parts"), 410, "upload_expired")


# --- aborting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dataset", "sample"])
def test_abort_discards_the_upload_in_storage_and_is_idempotent(provider, kind):
    client = provider.client
    sid = new_submission(client)
    base = BASES[kind](sid)
    started = start(client, base, sid, 6 * MiB)
    fid = started["fileUploadId"]
    put_part(client, fid, 1, os.urandom(5 * MiB), base=base)
    upload = FileUpload.objects.get(public_id=fid)
    assert open_multipart_ids(upload.key) == {started["uploadId"]}

    response = client.delete(f"{base}/{fid}")
    assert response.status_code == 204, response.content
    assert response.content == b""
    upload.refresh_from_db()
    assert upload.state == "aborted"
    assert open_multipart_ids(upload.key) == set()
    assert not object_exists(upload.key)
    audit = AuditEvent.objects.get(action="upload.abort", object_id=str(upload.pk))
    assert audit.actor == provider.user and audit.api_key == provider.key
    assert audit.organization == provider.org and audit.data["kind"] == kind

    # Again: nothing more to do, still 204, no second audit row.
    assert client.delete(f"{base}/{fid}").status_code == 204
    assert AuditEvent.objects.filter(action="upload.abort", object_id=str(upload.pk)).count() == 1
    # The upload is over for every other call (410 makes the SDK restart cleanly).
    assert_error(client.get(f"{base}/{fid}/parts/2"), 410, "upload_aborted")
    assert_error(client.get(f"{base}/{fid}/parts"), 410, "upload_aborted")
    body = {"uploadId": started["uploadId"], "parts": [], "checksum": "0" * 64}
    assert client.post(f"{base}/{fid}", body, format="json").status_code in (400, 410)
    # The submission can start afresh.
    assert start(client, base, sid, 1000)["fileUploadId"] != fid


def test_abort_of_a_superseded_or_expired_upload_is_a_success(provider):
    client = provider.client
    sid = new_submission(client)
    first = start(client, "/api/uploads", sid, 1000)["fileUploadId"]
    second = start(client, "/api/uploads", sid, 1000)["fileUploadId"]
    FileUpload.objects.filter(public_id=second).update(state=FileUpload.State.EXPIRED)
    for fid, state in ((first, "aborted"), (second, "expired")):
        assert client.delete(f"/api/uploads/{fid}").status_code == 204
        assert FileUpload.objects.get(public_id=fid).state == state
    assert not AuditEvent.objects.filter(action="upload.abort").exists()


@pytest.mark.parametrize("kind", ["dataset", "sample"])
def test_a_completed_upload_cannot_be_aborted(provider, kind):
    client = provider.client
    sid = new_submission(client)
    base = BASES[kind](sid)
    started, _ = upload_bytes(client, sid, make_archive(20_000), base=base)
    fid = started["fileUploadId"]

    body = assert_error(client.delete(f"{base}/{fid}"), 409, "upload_completed")
    assert "completed" in body["message"]
    upload = FileUpload.objects.get(public_id=fid)
    assert upload.state == "completed" and object_exists(upload.key)
    submission = Submission.objects.get(public_id=sid)
    attached = submission.file_upload if kind == "dataset" else submission.sample_upload
    assert attached == upload
    assert not AuditEvent.objects.filter(action="upload.abort").exists()


# --- other organisations -----------------------------------------------------------------------


def test_another_organisations_upload_is_404_to_list_and_abort(provider):
    client = provider.client
    sid = new_submission(client)
    dataset = start(client, "/api/uploads", sid, 6 * MiB)
    sample_base = f"/api/submissions/{sid}/sample"
    sample = start(client, sample_base, sid, 6 * MiB, filename="sample.tgz")
    other = api(make_key(uploads=True)[0])

    for base, started in (("/api/uploads", dataset), (sample_base, sample)):
        fid = started["fileUploadId"]
        body = assert_error(other.get(f"{base}/{fid}/parts"), 404, "not_found")
        assert sid not in body["message"]
        assert_error(other.delete(f"{base}/{fid}"), 404, "not_found")
        # Untouched, in the database and in storage.
        upload = FileUpload.objects.get(public_id=fid)
        assert upload.state == "uploading"
        assert open_multipart_ids(upload.key) == {started["uploadId"]}

    # Another organisation's upload cannot be addressed under its own submission either.
    other_sid = new_submission(other)
    fid = sample["fileUploadId"]
    assert_error(other.get(f"/api/submissions/{other_sid}/sample/{fid}/parts"), 404)
    assert_error(other.delete(f"/api/submissions/{other_sid}/sample/{fid}"), 404)
    # A sample upload is not reachable through the dataset routes, nor the other way round.
    assert_error(client.get(f"/api/uploads/{fid}/parts"), 404)
    assert_error(client.delete(f"/api/uploads/{fid}"), 404)
    assert_error(client.get(f"{sample_base}/{dataset['fileUploadId']}/parts"), 404)
    assert_error(client.delete(f"{sample_base}/{dataset['fileUploadId']}"), 404)
    assert FileUpload.objects.filter(state="uploading").count() == 2


def test_upload_rights_are_required():
    """A key made before the organisation's upload approval may neither list nor abort."""
    early_secret, early_key = make_key(uploads=False)
    organization_decide_upload_access(organization=early_key.organization, approve=True, actor=None)
    client = api(make_key(org=early_key.organization, user=early_key.user)[0])
    fid = start(client, "/api/uploads", new_submission(client), 1000)["fileUploadId"]
    early = api(early_secret)
    assert_error(early.get(f"/api/uploads/{fid}/parts"), 403, "key_predates_upload_approval")
    assert_error(early.delete(f"/api/uploads/{fid}"), 403, "key_predates_upload_approval")
    assert FileUpload.objects.get(public_id=fid).state == "uploading"


# --- a browser session -------------------------------------------------------------------------


def test_a_browser_session_lists_and_aborts_with_its_csrf_token(provider):
    """The uploader calls the API with the session cookie: reads work as with a key, and every
    write needs the CSRF token in X-CSRFToken, like any session write."""
    key_client = provider.client
    sid = new_submission(key_client)
    started = start(key_client, "/api/uploads", sid, 6 * MiB)
    fid = started["fileUploadId"]
    etag = put_part(key_client, fid, 1, os.urandom(5 * MiB))

    with_key = key_client.get(f"/api/uploads/{fid}/parts")
    browser, token = browser_session(provider.user)
    with_session = browser.get(f"/api/uploads/{fid}/parts")
    assert with_key.status_code == with_session.status_code == 200, with_session.content
    assert with_session.json() == with_key.json()
    assert with_session.json()["parts"] == [{"partNumber": 1, "etag": etag, "size": 5 * MiB}]

    # Writes without the token are refused, in our error shape, and change nothing.
    refused = browser.delete(f"/api/uploads/{fid}")
    body = assert_error(refused, 403)
    assert re.search("csrf", body["message"], re.IGNORECASE), body
    start_body = {
        "submissionId": sid,
        "filename": "again.tar.gz",
        "fileSize": 1000,
        "mimeType": "application/gzip",
    }
    assert_error(browser.post("/api/uploads", start_body, content_type="application/json"), 403)
    assert FileUpload.objects.filter(submission__public_id=sid).count() == 1
    assert FileUpload.objects.get(public_id=fid).state == "uploading"

    # With it, they go through.
    with TestCase.captureOnCommitCallbacks(execute=True):
        aborted = browser.delete(f"/api/uploads/{fid}", HTTP_X_CSRFTOKEN=token)
    assert aborted.status_code == 204, aborted.content
    upload = FileUpload.objects.get(public_id=fid)
    assert upload.state == "aborted" and open_multipart_ids(upload.key) == set()
    audit = AuditEvent.objects.get(action="upload.abort", object_id=str(upload.pk))
    assert audit.actor == provider.user and audit.api_key is None
    restarted = browser.post(
        "/api/uploads", start_body, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert restarted.status_code == 201, restarted.content


def test_the_schema_documents_both_endpoints(client):
    schema = client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    assert "get" in paths["/api/uploads/{upload_id}/parts"]
    assert {"post", "delete"} <= set(paths["/api/uploads/{upload_id}"])
    sample = "/api/submissions/{submission_id}/sample/{upload_id}"
    assert "get" in paths[f"{sample}/parts"]
    assert {"post", "delete"} <= set(paths[sample])
    listed = paths["/api/uploads/{upload_id}/parts"]["get"]["responses"]["200"]
    assert "application/json" in listed["content"]
