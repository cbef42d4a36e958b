import hashlib
import io
import tarfile

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.test import Client
from rest_framework.test import APIClient

from contributors.models import Contributor, PayoutAccount, ShareLine
from licensing.models import AccessRequest, Grant, Order
from marketplace.models import ApiKey, AuditEvent, Dataset, Organization, Submission, User
from marketplace.storage import bucket, s3_client
from payouts.models import JournalTransaction, PayoutLine, PayoutRun
from payouts.services import ledger_verify
from web.management.commands.seed_demo import read_env_file

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


def by_status(queryset) -> dict[str, int]:
    return dict(queryset.values_list("status").annotate(n=Count("pk")).order_by())


def history() -> dict:
    """What seed_demo makes besides identities and datasets, counted."""
    return {
        "submissions": by_status(Submission.objects.filter(organization__slug="demo-provider")),
        "orders": by_status(Order.objects.all()),
        "grants": by_status(Grant.objects.all()),
        "access_requests": by_status(AccessRequest.objects.all()),
        "payout_runs": by_status(PayoutRun.objects.all()),
        "payout_lines": by_status(PayoutLine.objects.all()),
        "payout_accounts": PayoutAccount.objects.filter(payouts_enabled=True).count(),
        "journal": dict(
            JournalTransaction.objects.values_list("kind").annotate(n=Count("pk")).order_by()
        ),
        "share_lines": ShareLine.objects.count(),
        "audit": AuditEvent.objects.count(),
        "organizations": Organization.objects.count(),
        "users": User.objects.count(),
    }


def signs_in(email: str, password: str) -> Client:
    browser = Client()
    signed_in = browser.post("/accounts/login/", {"login": email, "password": password})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/dashboard"
    return browser


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
        "DEMO_CONTRIBUTOR_EMAIL",
        "DEMO_CONTRIBUTOR_PASSWORD",
        "DEMO_FREE_DATASET_ID",
        "DEMO_RESTRICTED_DATASET_ID",
        "DEMO_PAID_DATASET_ID",
        "STRIPE_API_BASE",
        "STRIPE_SECRET_KEY",
    ):
        assert first.get(var), var
    assert first["MDC_API_URL"].endswith("/api")

    # The history, made through the services.
    made = history()
    assert made["submissions"] == {"approved": 3, "in_review": 1, "rejected": 1, "draft": 1}
    rejected = Submission.objects.get(status="rejected")
    assert rejected.review_note and rejected.reviewed_by.username == "admin"
    in_review = Submission.objects.get(status="in_review")
    assert in_review.file_upload.state == "completed" and in_review.check_runs.exists()
    assert made["orders"] == {"paid": 1, "partially_refunded": 1}
    assert made["grants"] == {"active": 2}
    refunded = Order.objects.get(status="partially_refunded")
    assert refunded.organization.slug == "demo-buyer" and refunded.refunded_cents == 1000
    paid_id = first["DEMO_PAID_DATASET_ID"]
    assert {o.dataset.public_id for o in Order.objects.all()} == {paid_id}
    assert made["journal"]["hold_release"] == 2 and made["journal"]["refund"] == 1
    assert made["payout_runs"] == {"completed": 1}
    assert made["payout_lines"] == {"paid": 2}
    assert made["payout_accounts"] == 2
    assert made["access_requests"] == {"pending": 1}
    request = AccessRequest.objects.get()
    assert request.organization.slug == "demo-buyer"
    assert request.dataset.public_id == first["DEMO_RESTRICTED_DATASET_ID"]
    # The contributor claimed the profile the paid dataset's share table names beside the
    # provider, and was paid.
    contributor = Contributor.objects.get(email=first["DEMO_CONTRIBUTOR_EMAIL"])
    assert contributor.user.email == first["DEMO_CONTRIBUTOR_EMAIL"]
    assert contributor.claimed_at is not None
    shares = ShareLine.objects.filter(table__dataset__public_id=paid_id)
    assert {(line.payee.kind, line.weight) for line in shares} == {
        ("organization", 6000),
        ("contributor", 4000),
    }
    assert PayoutLine.objects.filter(payee__contributor=contributor, status="paid").exists()
    assert ledger_verify().ok

    run("seed_demo", "--output", str(target))
    second = read_env_file(target)
    assert second == first
    assert history() == made
    assert User.objects.filter(username="admin", is_staff=True).count() == 1
    # One staff user per staff group, none of them a superuser; only `admin` is one.
    for role, group in (("REVIEWER", "reviewer"), ("FINANCE", "finance"), ("SUPPORT", "support")):
        user = User.objects.get(username=first[f"DEMO_{role}_USERNAME"])
        assert user.check_password(first[f"DEMO_{role}_PASSWORD"])
        assert user.is_staff and not user.is_superuser
        assert list(user.groups.values_list("name", flat=True)) == [group]
    assert User.objects.get(username="admin").is_superuser
    assert Organization.objects.filter(slug__in=["demo-provider", "demo-buyer"]).count() == 2
    assert ApiKey.objects.count() == 2
    assert Dataset.objects.count() == 3
    # The demo provider and the contributor sign in on the web with the written credentials.
    browser = signs_in(first["DEMO_PROVIDER_EMAIL"], first["DEMO_PROVIDER_PASSWORD"])
    assert "Demo Voices Provider" in browser.get("/dashboard").content.decode()
    browser = signs_in(first["DEMO_CONTRIBUTOR_EMAIL"], first["DEMO_CONTRIBUTOR_PASSWORD"])
    assert browser.get("/dashboard").status_code == 200

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

    # Storage lost (moto restarted): a re-seed puts the identical archives back, the one in
    # review included, and makes nothing twice.
    review_key = in_review.file_upload.key
    review_body = s3_client().get_object(Bucket=bucket(), Key=review_key)["Body"].read()
    for key in (version.archive_key, review_key):
        s3_client().delete_object(Bucket=bucket(), Key=key)
    run("seed_demo", "--output", str(target))
    again = s3_client().get_object(Bucket=bucket(), Key=version.archive_key)["Body"].read()
    assert hashlib.sha256(again).hexdigest() == free["checksum"]
    assert s3_client().get_object(Bucket=bucket(), Key=review_key)["Body"].read() == review_body
    assert history() == made

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
