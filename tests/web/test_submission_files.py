"""The "Files" step of a submission, as the server renders it: each file's state, the uploader's
data attributes (what it needs to resume after a reload), 404 for another organisation, and no
uploader where uploading is not allowed. The uploader itself runs in tests/e2e."""

import hashlib
import os
import re

import pytest
import requests
from django.test import Client

from marketplace.models import FileUpload
from marketplace.services.identity import organization_decide_upload_access
from tests.catalogue_helpers import DATASHEET, MiB, api, make_archive, upload_bytes

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def new_submission(client) -> str:
    return client.post("/api/submissions", {"name": "Welsh speech"}, format="json").json()[
        "submission"
    ]["id"]


def uploader(html: str, kind: str) -> str:
    """The opening tag of the uploader of one kind."""
    match = re.search(rf'<div class="uploader" data-uploader\s+data-kind="{kind}"[^>]*>', html)
    assert match, html
    return match.group(0)


def attr(tag: str, name: str) -> str | None:
    match = re.search(rf'{name}="([^"]*)"', tag)
    return match.group(1) if match else None


def test_a_new_submission_shows_both_files_not_uploaded_and_the_uploaders(provider, settings):
    settings.UPLOAD_MAX_BYTES = 123_456_789
    sid = new_submission(provider.client)
    response = browser(provider.user).get(f"/submissions/{sid}/files")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("Not uploaded") == 2
    # The stepper: this step current, the others and the status page linked.
    assert '<strong aria-current="step">1. Files</strong>' in html
    assert f'href="/submissions/{sid}"' in html and f'href="/submissions/{sid}/datasheet"' in html
    dataset, sample = uploader(html, "dataset"), uploader(html, "sample")
    assert attr(dataset, "data-api-base") == "/api/uploads"
    assert attr(sample, "data-api-base") == f"/api/submissions/{sid}/sample"
    for tag in (dataset, sample):
        assert attr(tag, "data-max-bytes") == "123456789"
        assert attr(tag, "data-submission-id") == sid
        assert attr(tag, "data-upload-id") is None
        assert attr(tag, "data-csrf-token")
    assert '<label for="dataset-file">' in html and 'id="dataset-file" type="file"' in html
    assert 'role="status" aria-live="polite"' in html
    assert "web/uploader.js" in html


def test_an_unfinished_upload_is_rendered_for_the_uploader_to_resume(provider):
    client = provider.client
    sid = new_submission(client)
    started = client.post(
        "/api/uploads",
        {
            "submissionId": sid,
            "filename": "speech corpus.tar.gz",
            "fileSize": 12 * MiB,
            "mimeType": "application/gzip",
        },
        format="json",
    ).json()
    fid = started["fileUploadId"]
    url = client.get(f"/api/uploads/{fid}/parts/1").json()["url"]
    assert requests.put(url, data=os.urandom(5 * MiB), timeout=60).status_code == 200

    html = browser(provider.user).get(f"/submissions/{sid}/files").content.decode()
    upload = FileUpload.objects.get(public_id=fid)
    tag = uploader(html, "dataset")
    assert attr(tag, "data-upload-id") == fid
    assert attr(tag, "data-upload-filename") == "speech_corpus.tar.gz"
    assert attr(tag, "data-upload-size") == str(12 * MiB)
    assert attr(tag, "data-upload-expires-at") == upload.expires_at.isoformat()
    assert "Uploading: can be resumed" in html
    assert "1 part, 5.0\xa0MB of 12.0\xa0MB" in html
    assert "Select speech_corpus.tar.gz again to continue" in html
    assert attr(uploader(html, "sample"), "data-upload-id") is None


def test_uploaded_files_show_name_size_and_declared_checksum(provider):
    client = provider.client
    sid = new_submission(client)
    data, sample = make_archive(30_000), make_archive(5_000)
    upload_bytes(client, sid, data)
    upload_bytes(client, sid, sample, base=f"/api/submissions/{sid}/sample", filename="s.tgz")

    html = browser(provider.user).get(f"/submissions/{sid}/files").content.decode()
    assert html.count("Uploaded</span>") == 2
    assert hashlib.sha256(data).hexdigest() in html and hashlib.sha256(sample).hexdigest() in html
    assert f"({len(data)} bytes)" in html and "s.tgz" in html
    assert "Replace with another archive" in html


def test_another_organisations_submission_is_404(provider, outsider):
    sid = new_submission(provider.client)
    assert browser(outsider.user).get(f"/submissions/{sid}/files").status_code == 404
    assert browser(provider.user).get("/submissions/sub-unknown/files").status_code == 404
    assert browser(provider.user).get(f"/submissions/{sid}/files").status_code == 200


def test_without_upload_rights_the_page_says_why_and_has_no_uploader(provider):
    sid = new_submission(provider.client)
    organization_decide_upload_access(organization=provider.org, approve=False, actor=None)
    response = browser(provider.user).get(f"/submissions/{sid}/files")
    assert response.status_code == 200
    html = response.content.decode()
    assert "is not approved to upload datasets" in html
    assert "data-uploader" not in html and 'type="file"' not in html


def test_a_submitted_submission_shows_its_files_but_no_uploader(provider):
    client = provider.client
    sid = new_submission(client)
    client.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
    upload_bytes(client, sid, make_archive(10_000))
    assert (
        api(provider.secret)
        .post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
        .status_code
        == 200
    )
    html = browser(provider.user).get(f"/submissions/{sid}/files").content.decode()
    assert "its files cannot be changed now" in html
    assert "Uploaded</span>" in html and "data-uploader" not in html


def test_signed_out_visitors_are_sent_to_sign_in():
    response = Client().get("/submissions/sub123/files")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
