import hashlib
import io
import tarfile

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from marketplace.management.commands.seed_demo import read_env_file
from marketplace.models import ApiKey, Dataset, Organization, User
from marketplace.storage import bucket, s3_client

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_create_organization_and_key_commands():
    run("create_organization", "Acme Audio", "--owner", "alice", "--approve-uploads")
    org = Organization.objects.get(slug="acme-audio")
    assert org.upload_access == "approved"
    secret = run("create_api_key", "--org", "acme-audio", "--user", "alice", "--name", "cli")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = client.get("/api/me")
    assert response.status_code == 200
    assert response.json()["organization"]["slug"] == "acme-audio"
    assert response.json()["canUpload"] is True


def test_create_api_key_refuses_non_members_and_unknown_orgs():
    run("create_organization", "Acme", "--owner", "alice")
    User.objects.create(username="mallory")
    with pytest.raises(CommandError, match="not a member"):
        run("create_api_key", "--org", "acme", "--user", "mallory")
    with pytest.raises(CommandError, match="No organisation"):
        run("create_api_key", "--org", "nope", "--user", "alice")
    assert not ApiKey.objects.exists()


def test_seed_demo_is_idempotent_and_writes_working_credentials(tmp_path):
    target = tmp_path / "demo.env"
    run("seed_demo", "--output", str(target))
    first = read_env_file(target)
    for var in (
        "MDC_API_URL",
        "DEMO_ADMIN_USERNAME",
        "DEMO_ADMIN_PASSWORD",
        "DEMO_PROVIDER_API_KEY",
        "DEMO_BUYER_API_KEY",
        "DEMO_PROVIDER_EMAIL",
        "DEMO_PROVIDER_PASSWORD",
        "DEMO_BUYER_EMAIL",
        "DEMO_BUYER_PASSWORD",
        "DEMO_FREE_DATASET_ID",
        "DEMO_RESTRICTED_DATASET_ID",
        "DEMO_PAID_DATASET_ID",
        "STRIPE_API_BASE",
        "STRIPE_SECRET_KEY",
    ):
        assert first.get(var), var
    assert first["MDC_API_URL"].endswith("/api")
    run("seed_demo", "--output", str(target))
    second = read_env_file(target)
    assert second == first
    assert User.objects.filter(username="admin", is_staff=True).count() == 1
    assert Organization.objects.filter(slug__in=["demo-provider", "demo-buyer"]).count() == 2
    assert ApiKey.objects.count() == 2
    assert Dataset.objects.count() == 3
    # The demo provider signs in on the web with the written e-mail and password.
    browser = Client()
    signed_in = browser.post(
        "/accounts/login/",
        {"login": first["DEMO_PROVIDER_EMAIL"], "password": first["DEMO_PROVIDER_PASSWORD"]},
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/dashboard"
    assert "Demo Voices Provider" in browser.get("/dashboard").content.decode()

    listing = APIClient().get("/api/datasets").json()
    assert {d["id"] for d in listing["items"]} == {
        first["DEMO_FREE_DATASET_ID"],
        first["DEMO_RESTRICTED_DATASET_ID"],
        first["DEMO_PAID_DATASET_ID"],
    }
    paid = APIClient().get(f"/api/datasets/{first['DEMO_PAID_DATASET_ID']}").json()
    assert paid["pricing"]["isPaid"] is True and paid["pricing"]["basePriceCents"] == 2500
    restricted = APIClient().get(f"/api/datasets/{first['DEMO_RESTRICTED_DATASET_ID']}").json()
    assert restricted["visibility"] == "restricted"
    free = APIClient().get(f"/api/datasets/{first['DEMO_FREE_DATASET_ID']}").json()
    assert free["hasSample"] is True
    # The archive in storage is a real .tar.gz with a TSV index and WAV clips, and its SHA-256
    # is the published checksum.
    version = Dataset.objects.get(public_id=free["id"]).latest_version
    body = s3_client().get_object(Bucket=bucket(), Key=version.archive_key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == free["checksum"]
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        names = tar.getnames()
    assert any(n.endswith("clips.tsv") for n in names)
    assert sum(n.endswith(".wav") for n in names) == 6

    # Storage lost (moto restarted): a re-seed puts the identical archive back.
    s3_client().delete_object(Bucket=bucket(), Key=version.archive_key)
    run("seed_demo", "--output", str(target))
    again = s3_client().get_object(Bucket=bucket(), Key=version.archive_key)["Body"].read()
    assert hashlib.sha256(again).hexdigest() == free["checksum"]

    admin = User.objects.get(username="admin")
    assert admin.check_password(first["DEMO_ADMIN_PASSWORD"])
    for var, slug, can_upload in (
        ("DEMO_PROVIDER_API_KEY", "demo-provider", True),
        ("DEMO_BUYER_API_KEY", "demo-buyer", False),
    ):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {first[var]}")
        me = client.get("/api/me").json()
        assert me["organization"]["slug"] == slug
        assert me["canUpload"] is can_upload

    # A lost demo.env is recovered with fresh secrets, not duplicated objects.
    target.unlink()
    run("seed_demo", "--output", str(target))
    third = read_env_file(target)
    assert third["DEMO_BUYER_API_KEY"] != first["DEMO_BUYER_API_KEY"]
    assert Organization.objects.filter(slug="demo-buyer").count() == 1
