"""Assembling an upload before its completion (the browser asks storage to assemble the parts
while it computes the file's checksum): the same checks as completion, nothing recorded on the
submission, and nothing lost when the page goes away between the two steps."""

import hashlib
import os
from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.actors import actor_for_member
from marketplace.models import AuditEvent, FileUpload, Submission
from marketplace.services.errors import Gone
from marketplace.services.uploads import file_upload_assemble, file_uploads_expire
from marketplace.storage import bucket, s3_client
from tests.assertions import assert_error
from tests.catalogue_helpers import MiB, api, object_exists, open_multipart_ids, put_part
from tests.factories import make_key
from tests.marketplace.test_upload_parts_and_abort import (
    BASES,
    browser_session,
    new_submission,
    start,
)

pytestmark = pytest.mark.django_db


def stored_upload(client, base, sid, data, *, part_size=5 * MiB):
    """An upload of `data` with every part stored; (its start answer, its part list)."""
    started = start(client, base, sid, len(data), filename="speech.tar.gz")
    fid = started["fileUploadId"]
    parts = []
    for number, offset in enumerate(range(0, len(data), part_size), start=1):
        etag = put_part(client, fid, number, data[offset : offset + part_size], base=base)
        parts.append({"partNumber": number, "etag": etag})
    return started, parts


def multipart_etag(data: bytes, part_size: int = 5 * MiB) -> str:
    """S3's ETag of a multipart object: the MD5 of the parts' MD5s, then `-N`."""
    digests = [
        hashlib.md5(data[o : o + part_size]).digest()  # noqa: S324 - S3's definition
        for o in range(0, len(data), part_size)
    ]
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"  # noqa: S324


@pytest.mark.parametrize("kind", ["dataset", "sample"])
def test_assembled_parts_wait_for_the_completion_with_the_checksum(provider, kind):
    client = provider.client
    sid = new_submission(client)
    base = BASES[kind](sid)
    data = os.urandom(11 * MiB)
    started, parts = stored_upload(client, base, sid, data)
    fid = started["fileUploadId"]
    upload = FileUpload.objects.get(public_id=fid)

    response = client.post(
        f"{base}/{fid}/assemble", {"uploadId": started["uploadId"], "parts": parts}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "uploading"
    assert response.json()["checksum"] is None
    # Storage assembled the object; the multipart upload is gone.
    head = s3_client().head_object(Bucket=bucket(), Key=upload.key)
    assert head["ContentLength"] == len(data)
    assert started["uploadId"] not in open_multipart_ids(upload.key)
    upload.refresh_from_db()
    assert upload.state == FileUpload.State.UPLOADING
    assert upload.assembled_etag == head["ETag"].strip('"') == multipart_etag(data)
    assert upload.assembled_parts == [
        [p["etag"], size] for p, size in zip(parts, [5 * MiB] * 2 + [MiB], strict=True)
    ]
    # Nothing is the submission's yet.
    submission = Submission.objects.get(public_id=sid)
    assert submission.file_upload_id is None and submission.sample_upload_id is None
    assert not AuditEvent.objects.filter(action="upload.complete").exists()

    # The listing answers the parts storage assembled (a reloaded page resumes from these).
    listing = client.get(f"{base}/{fid}/parts").json()
    assert listing["assembled"] is True
    assert listing["parts"] == [
        {"partNumber": p["partNumber"], "etag": p["etag"], "size": size}
        for p, size in zip(parts, [5 * MiB, 5 * MiB, MiB], strict=True)
    ]
    # Assembling again is an answer, not a second assembly.
    again = client.post(
        f"{base}/{fid}/assemble", {"uploadId": started["uploadId"], "parts": parts}, format="json"
    )
    assert again.status_code == 200, again.json()

    checksum = hashlib.sha256(data).hexdigest()
    done = client.post(
        f"{base}/{fid}",
        {"uploadId": started["uploadId"], "parts": parts, "checksum": checksum},
        format="json",
    )
    assert done.status_code == 200, done.json()
    assert done.json()["state"] == "completed" and done.json()["checksum"] == checksum
    upload.refresh_from_db()
    assert (upload.stored_size, upload.parts_count, upload.declared_sha256) == (
        len(data),
        3,
        checksum,
    )
    submission.refresh_from_db()
    attached = submission.file_upload_id if kind == "dataset" else submission.sample_upload_id
    assert attached == upload.pk
    assert AuditEvent.objects.filter(action="upload.complete", object_id=str(upload.pk)).exists()
    # Repeating either step after the completion is harmless.
    late = client.post(
        f"{base}/{fid}/assemble", {"uploadId": started["uploadId"], "parts": parts}, format="json"
    )
    assert late.status_code == 200 and late.json()["state"] == "completed"


def test_assembly_refuses_what_completion_refuses_and_assembles_nothing(provider):
    client = provider.client
    sid = new_submission(client)
    base = BASES["dataset"](sid)
    data = os.urandom(11 * MiB)
    started = start(client, base, sid, len(data), filename="speech.tar.gz")
    fid = started["fileUploadId"]
    upload = FileUpload.objects.get(public_id=fid)
    etags = {n: put_part(client, fid, n, data[(n - 1) * 5 * MiB : n * 5 * MiB]) for n in (1, 2)}
    url = f"{base}/{fid}/assemble"
    body = {
        "uploadId": started["uploadId"],
        "parts": [{"partNumber": n, "etag": etags.get(n, "0" * 32)} for n in (1, 2, 3)],
    }
    missing = assert_error(client.post(url, body, format="json"), 422, "missing_parts")
    assert missing["missingParts"] == [3]
    body["parts"] = [{"partNumber": 1, "etag": etags[2]}, {"partNumber": 2, "etag": etags[2]}]
    assert_error(client.post(url, body, format="json"), 422, "etag_mismatch")
    body["parts"] = [{"partNumber": 2, "etag": etags[2]}]
    assert_error(client.post(url, body, format="json"), 422, "invalid_parts")
    body = {"uploadId": "not-this-one", "parts": [{"partNumber": 1, "etag": etags[1]}]}
    assert_error(client.post(url, body, format="json"), 409, "upload_id_mismatch")
    assert_error(client.post(url, {"uploadId": started["uploadId"]}, format="json"), 400)
    # Still a multipart upload in storage, nothing assembled or recorded.
    assert started["uploadId"] in open_multipart_ids(upload.key)
    assert not object_exists(upload.key)
    upload.refresh_from_db()
    assert upload.assembled_parts is None and upload.assembled_etag == ""


def test_assembly_with_other_etags_after_it_is_refused(provider):
    client = provider.client
    sid = new_submission(client)
    base = BASES["dataset"](sid)
    data = os.urandom(6 * MiB)
    started, parts = stored_upload(client, base, sid, data)
    fid = started["fileUploadId"]
    body = {"uploadId": started["uploadId"], "parts": parts}
    assert client.post(f"{base}/{fid}/assemble", body, format="json").status_code == 200
    wrong = [
        {"partNumber": 1, "etag": parts[1]["etag"]},
        {"partNumber": 2, "etag": parts[0]["etag"]},
    ]
    for url, extra in ((f"{base}/{fid}/assemble", {}), (f"{base}/{fid}", {"checksum": "a" * 64})):
        assert_error(
            client.post(url, {**body, "parts": wrong, **extra}, format="json"), 422, "etag_mismatch"
        )
    assert FileUpload.objects.get(public_id=fid).state == FileUpload.State.UPLOADING


def test_completion_refuses_an_assembled_object_that_was_replaced(provider):
    """The completion of an assembled upload checks the object is still the one assembled (the
    key is ours alone, but storage is not trusted blindly): another object of the same size is
    a conflict, and nothing is recorded."""
    client = provider.client
    sid = new_submission(client)
    base = BASES["dataset"](sid)
    data = os.urandom(6 * MiB)
    started, parts = stored_upload(client, base, sid, data)
    fid = started["fileUploadId"]
    body = {"uploadId": started["uploadId"], "parts": parts}
    assert client.post(f"{base}/{fid}/assemble", body, format="json").status_code == 200
    upload = FileUpload.objects.get(public_id=fid)
    s3_client().put_object(Bucket=bucket(), Key=upload.key, Body=os.urandom(len(data)))
    body["checksum"] = hashlib.sha256(data).hexdigest()
    assert_error(client.post(f"{base}/{fid}", body, format="json"), 409, "object_changed")
    upload.refresh_from_db()
    assert upload.state == FileUpload.State.UPLOADING and upload.declared_sha256 == ""
    assert Submission.objects.get(public_id=sid).file_upload_id is None


def test_an_assembled_upload_that_is_aborted_or_expires_leaves_no_object(
    provider, django_capture_on_commit_callbacks
):
    client = provider.client
    sid = new_submission(client)
    base = BASES["dataset"](sid)
    keys = []
    for _ in range(2):
        data = os.urandom(6 * MiB)
        started, parts = stored_upload(client, base, sid, data)
        fid = started["fileUploadId"]
        body = {"uploadId": started["uploadId"], "parts": parts}
        assert client.post(f"{base}/{fid}/assemble", body, format="json").status_code == 200
        keys.append((fid, FileUpload.objects.get(public_id=fid).key))
        assert object_exists(keys[-1][1])
    # A newer start superseded the first upload; abort the second, expire the first.
    (first, first_key), (second, second_key) = keys
    assert client.delete(f"{base}/{second}").status_code == 204
    assert not object_exists(second_key)
    FileUpload.objects.filter(public_id=first).update(
        state=FileUpload.State.UPLOADING, expires_at=timezone.now() - timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert file_uploads_expire() >= 1
    assert FileUpload.objects.get(public_id=first).state == FileUpload.State.EXPIRED
    assert not object_exists(first_key)

    # A new start supersedes an assembled upload of the same file slot: its object goes too.
    data = os.urandom(6 * MiB)
    started, parts = stored_upload(client, base, sid, data)
    body = {"uploadId": started["uploadId"], "parts": parts}
    url = f"{base}/{started['fileUploadId']}/assemble"
    assert client.post(url, body, format="json").status_code == 200
    key = FileUpload.objects.get(public_id=started["fileUploadId"]).key
    assert object_exists(key)
    start(client, base, sid, 6 * MiB)
    assert FileUpload.objects.get(public_id=started["fileUploadId"]).state == "aborted"
    assert not object_exists(key)


def test_a_completion_whose_storage_upload_is_gone_is_410(provider):
    """Storage lost the multipart upload (a lifecycle rule, an operator): the completion says so
    (410, start again) instead of failing with a storage error."""
    client = provider.client
    sid = new_submission(client)
    base = BASES["dataset"](sid)
    data = os.urandom(6 * MiB)
    started, parts = stored_upload(client, base, sid, data)
    fid = started["fileUploadId"]
    upload = FileUpload.objects.get(public_id=fid)
    s3_client().abort_multipart_upload(
        Bucket=bucket(), Key=upload.key, UploadId=started["uploadId"]
    )
    body = {"uploadId": started["uploadId"], "parts": parts}
    assert_error(client.post(f"{base}/{fid}/assemble", body, format="json"), 410, "upload_lost")
    body["checksum"] = hashlib.sha256(data).hexdigest()
    assert_error(client.post(f"{base}/{fid}", body, format="json"), 410, "upload_lost")


def test_the_browser_session_assembles_and_other_organisations_cannot(provider):
    client, csrf = browser_session(provider.user)
    sid = new_submission(provider.client)
    data = os.urandom(6 * MiB)
    started, parts = stored_upload(provider.client, "/api/uploads", sid, data)
    fid = started["fileUploadId"]
    url = f"/api/uploads/{fid}/assemble"
    body = {"uploadId": started["uploadId"], "parts": parts}
    other = api(make_key(uploads=True)[0])  # another organisation, approved for uploads
    assert_error(other.post(url, body, format="json"), 404, "not_found")
    assert not object_exists(FileUpload.objects.get(public_id=fid).key)
    refused = client.post(url, body, content_type="application/json")
    assert refused.status_code == 403  # no CSRF token: a cross-site form cannot assemble
    answered = client.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert answered.status_code == 200, answered.json()
    # The files page says what is left to do.
    page = client.get(f"/submissions/{sid}/files")
    assert page.status_code == 200
    assert "assembled by storage" in page.content.decode()


def test_an_upload_aborted_while_storage_assembled_it_leaves_no_object(provider):
    """The abort takes the row while storage assembles (the service read the upload before):
    the assembly records nothing, removes the object it made, and says the upload is gone."""
    client = provider.client
    sid = new_submission(client)
    data = os.urandom(6 * MiB)
    started, parts = stored_upload(client, BASES["dataset"](sid), sid, data)
    upload = FileUpload.objects.get(public_id=started["fileUploadId"])
    FileUpload.objects.filter(pk=upload.pk).update(state=FileUpload.State.ABORTED)
    with pytest.raises(Gone) as gone:
        file_upload_assemble(
            actor=actor_for_member(user=provider.user, organization=upload.organization),
            upload=upload,  # as read before the abort
            storage_upload_id=started["uploadId"],
            parts=parts,
        )
    assert gone.value.code == "upload_aborted"
    assert not object_exists(upload.key)
    assert FileUpload.objects.get(pk=upload.pk).assembled_parts is None
