import hashlib
import os

import pytest
import requests
from django.conf import settings
from django.core.management import call_command

from marketplace.storage import bucket, presign_download, presign_part_upload, s3_client

MiB = 1024 * 1024


def test_presigned_multipart_upload_and_ranged_download():
    client = s3_client()
    key = "tests/roundtrip.bin"
    parts_data = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(123_457)]
    upload_id = client.create_multipart_upload(Bucket=bucket(), Key=key)["UploadId"]
    etags = []
    for number, chunk in enumerate(parts_data, start=1):
        url = presign_part_upload(key=key, upload_id=upload_id, part_number=number)
        assert "X-Amz-Expires=" in url
        # Plain HTTP PUT with only Content-Length, as the SDK sends it.
        response = requests.put(url, data=chunk, timeout=30)
        assert response.status_code == 200, response.text
        etags.append(response.headers["ETag"].strip('"'))
    listed = client.list_parts(Bucket=bucket(), Key=key, UploadId=upload_id)["Parts"]
    assert [p["Size"] for p in listed] == [len(c) for c in parts_data]
    client.complete_multipart_upload(
        Bucket=bucket(),
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, 1)]},
    )
    whole = b"".join(parts_data)
    assert client.head_object(Bucket=bucket(), Key=key)["ContentLength"] == len(whole)

    url = presign_download(key=key, filename="roundtrip.bin")
    full = requests.get(url, timeout=30)
    assert full.status_code == 200
    assert hashlib.sha256(full.content).hexdigest() == hashlib.sha256(whole).hexdigest()
    assert "attachment" in full.headers["Content-Disposition"]

    start, end = 5 * MiB - 10, 5 * MiB + 9
    ranged = requests.get(url, headers={"Range": f"bytes={start}-{end}"}, timeout=30)
    assert ranged.status_code == 206
    assert ranged.content == whole[start : end + 1]
    assert ranged.headers["Content-Range"] == f"bytes {start}-{end}/{len(whole)}"

    tail = requests.get(url, headers={"Range": f"bytes={len(whole) - 100}-"}, timeout=30)
    assert tail.status_code == 206
    assert tail.content == whole[-100:]


def test_download_url_is_short_lived():
    url = presign_download(key="x", filename="x.tar.gz")
    assert f"X-Amz-Expires={settings.PRESIGNED_DOWNLOAD_TTL_SECONDS}" in url
    assert settings.PRESIGNED_DOWNLOAD_TTL_SECONDS <= 3600


def test_bootstrap_storage_is_idempotent_and_configures_bucket(settings, capsys):
    settings.AWS_STORAGE_BUCKET_NAME = "bootstrap-check"
    call_command("bootstrap_storage")
    call_command("bootstrap_storage")
    out = capsys.readouterr().out
    assert "created bucket bootstrap-check" in out
    assert "bucket bootstrap-check exists" in out
    client = s3_client()
    cors = client.get_bucket_cors(Bucket="bootstrap-check")["CORSRules"][0]
    assert set(cors["AllowedMethods"]) == {"PUT", "POST", "GET", "DELETE"}
    assert cors["ExposeHeaders"] == ["ETag"]
    rules = client.get_bucket_lifecycle_configuration(Bucket="bootstrap-check")["Rules"]
    assert rules[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7


@pytest.mark.django_db
def test_django_storage_backend_talks_to_the_same_store():
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    name = default_storage.save("tests/hello.txt", ContentFile(b"hello"))
    assert s3_client().get_object(Bucket=bucket(), Key=name)["Body"].read() == b"hello"
