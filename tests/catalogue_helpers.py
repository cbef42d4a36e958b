"""Build catalogue state the way production does: API calls for the provider's steps, presigned
PUTs straight to the S3 server for the bytes, the review service for staff decisions."""

import gzip
import hashlib
import io
import os
import tarfile
import wave

import requests
from botocore.exceptions import ClientError
from django.db import connection
from django.test import TestCase
from rest_framework.test import APIClient

from marketplace.models import Dataset, Submission
from marketplace.services.review import submission_approve
from marketplace.storage import bucket, s3_client
from tests.factories import make_user

MiB = 1024 * 1024


def wav_bytes(size: int) -> bytes:
    """A valid 16 kHz mono 16-bit WAV of about `size` bytes of random samples (noise: the
    archive is about as large as asked, and no two test archives are equal)."""
    frames = os.urandom(max(2, size - 44) & ~1)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(frames)
    return buf.getvalue()


def make_archive(size: int = 64 * 1024, *, seed: bytes = b"", name: str = "data.tsv") -> bytes:
    """A real .tar.gz like an ASR dataset: a TSV index and one WAV clip of about `size` bytes."""
    index = (
        b"path\tsentence\n"
        + b"clips/clip.wav\t"
        + (seed or b"hello")
        + b" "
        + os.urandom(8).hex().encode()
        + b"\n"
    )
    members = [(name, index), ("clips/clip.wav", wav_bytes(max(1024, size - len(index))))]
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        for member_name, payload in members:
            info = tarfile.TarInfo(member_name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


class CommittingAPIClient(APIClient):
    """Runs each request's after-commit work (Celery tasks enqueued with on_commit) when the
    request returns, as a real commit would; the surrounding test transaction never commits."""

    def request(self, **kwargs):
        with TestCase.captureOnCommitCallbacks(execute=True):
            return super().request(**kwargs)


def api(secret: str | None = None) -> APIClient:
    client = CommittingAPIClient()
    if secret:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


DATASHEET = {
    "shortDescription": "Read speech in Welsh",
    "longDescription": "Ten hours of read speech, recorded by volunteers.",
    "locale": "cy",
    "task": "ASR",
    "format": "TSV",
    "licenseAbbreviation": "CC-BY-4.0",
    "visibility": "public",
}


def upload_bytes(
    client: APIClient,
    submission_id: str,
    data: bytes,
    *,
    base="/api/uploads",
    filename="data.tar.gz",
    part_size=5 * MiB,
    complete=True,
):
    start = client.post(
        base,
        {
            "submissionId": submission_id,
            "filename": filename,
            "fileSize": len(data),
            "mimeType": "application/gzip",
        },
        format="json",
    )
    assert start.status_code == 201, start.json()
    upload = start.json()
    parts = []
    for number, offset in enumerate(range(0, len(data), part_size), start=1):
        url = client.get(f"{base}/{upload['fileUploadId']}/parts/{number}").json()["url"]
        put = requests.put(url, data=data[offset : offset + part_size], timeout=60)
        assert put.status_code == 200
        parts.append({"partNumber": number, "etag": put.headers["ETag"].strip('"')})
    body = {
        "uploadId": upload["uploadId"],
        "parts": parts,
        "checksum": hashlib.sha256(data).hexdigest(),
    }
    if complete:
        done = client.post(f"{base}/{upload['fileUploadId']}", body, format="json")
        assert done.status_code == 200, done.json()
    return upload, body


def publish_dataset(
    secret: str,
    *,
    name="Welsh read speech",
    data: bytes | None = None,
    sample: bytes | None = None,
    reviewer=None,
    **datasheet,
):
    """Create, fill, upload, submit and approve; returns (submission id, version)."""
    client = api(secret)
    sid = client.post("/api/submissions", {"name": name}, format="json").json()["submission"]["id"]
    response = client.patch(f"/api/submissions/{sid}", {**DATASHEET, **datasheet}, format="json")
    assert response.status_code == 200, response.json()
    upload_bytes(client, sid, data or make_archive())
    if sample is not None:
        upload_bytes(
            client, sid, sample, base=f"/api/submissions/{sid}/sample", filename="sample.tar.gz"
        )
    response = client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
    assert response.status_code == 200, response.json()
    submission = Submission.objects.get(public_id=sid)
    assert submission.status == Submission.Status.IN_REVIEW
    version = submission_approve(submission=submission, actor=reviewer or make_user(is_staff=True))
    return sid, version


def put_part(client, fid, number, chunk, *, base="/api/uploads") -> str:
    """PUT one part to storage on the URL our API presigns; returns its ETag."""
    response = client.get(f"{base}/{fid}/parts/{number}")
    assert response.status_code == 200, response.json()
    put = requests.put(response.json()["url"], data=chunk, timeout=60)
    assert put.status_code == 200, put.text
    return put.headers["ETag"].strip('"')


def open_multipart_ids(prefix: str) -> set[str]:
    """Storage multipart uploads still open under `prefix` (what an abort must remove)."""
    listing = s3_client().list_multipart_uploads(Bucket=bucket(), Prefix=prefix)
    return {u["UploadId"] for u in listing.get("Uploads", [])}


def object_exists(key: str) -> bool:
    try:
        s3_client().head_object(Bucket=bucket(), Key=key)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in ("404", "NoSuchKey")
        return False
    return True


def clone_datasets(template: Dataset, count: int, computed: dict[str, str]) -> None:
    """`count` copies of a published dataset in one INSERT ... SELECT (publishing thousands
    through the services would take an hour): `computed` maps columns to SQL expressions of
    the copy's number `g` (1..count) and the template's columns; the rest are copied."""
    columns = [f.column for f in Dataset._meta.concrete_fields if f.column != "id"]
    values = [computed.get(column, f'"{column}"') for column in columns]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO marketplace_dataset ({', '.join(columns)}) "  # noqa: S608 - constants
            f"SELECT {', '.join(values)} FROM marketplace_dataset, generate_series(1, %s) g "
            "WHERE id = %s",
            [count, template.pk],
        )
