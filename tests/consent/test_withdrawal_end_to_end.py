"""Consent withdrawal end to end against the real servers (PostgreSQL, moto S3, the Stripe
emulator): a contributor withdraws → two buyers with grants receive a signed deletion manifest
that verifies offline and names exactly the withdrawn members' digests → the provider uploads a
new version; the checks fail it while a withdrawn digest remains and pass it when gone → the
buyers acknowledge; earnings before and after are exact (issue 13 §2)."""

import json

import pytest
from django.test import Client

from contributors.models import ConsentWithdrawal, Payee, ShareTable
from licensing.compliance import training_data_summary
from marketplace.models import CheckResult, Dataset, Submission
from marketplace.services.review import submission_approve
from payouts.models import MICRO_PER_CENT
from payouts.services import ledger_verify, payee_balances
from tests.assertions import assert_error
from tests.catalogue_helpers import api, upload_bytes
from tests.consent.helpers import (
    ALICE,
    BOB,
    archive,
    buy,
    buyers,
    claimed,
    corpus,
    sha,
    shares,
    verify_offline,
)
from tests.factories import make_user

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:EdDSA is deprecated:UserWarning"),
]
M = MICRO_PER_CENT


def pending(payee: Payee) -> int:
    balance = payee_balances(payee_id=payee.pk).get("usd")
    return balance.pending if balance else 0


def withdrawn_check(submission_id: str) -> CheckResult:
    submission = Submission.objects.get(public_id=submission_id)
    return CheckResult.objects.get(run__upload=submission.file_upload, name="withdrawn_members")


def test_withdrawal_reaches_licensees_and_the_next_version(provider, outsider):
    c = corpus(provider)
    dataset = c.dataset
    shares(
        provider,
        dataset,
        [
            {"organization": True, "percent": "50"},
            {"email": ALICE, "percent": "30"},
            {"email": BOB, "percent": "20"},
        ],
    )
    alice = claimed(dataset, ALICE)
    # The provider maps contributors to members with a CSV file.
    mapped = provider.client.put(
        f"/api/datasets/{dataset.public_id}/member-mapping.csv",
        f"email,path prefix\n{ALICE},clips/alice/\n{BOB},clips/bob/\n".encode(),
        content_type="text/csv",
    )
    assert mapped.status_code == 200, mapped.content
    assert mapped.json()["mappings"] == [
        {"email": ALICE, "pathPrefix": "clips/alice/"},
        {"email": BOB, "pathPrefix": "clips/bob/"},
    ]

    first, second = buyers()
    grants = {first.org.pk: buy(first, dataset), second.org.pk: buy(second, dataset)}
    org_payee = Payee.objects.get(organization=provider.org)
    alice_payee = Payee.objects.get(contributor__email=ALICE)
    bob_payee = Payee.objects.get(contributor__email=BOB)
    before = (pending(org_payee), pending(alice_payee), pending(bob_payee))
    assert before == (2 * 500 * M, 2 * 300 * M, 2 * 200 * M)

    # Alice withdraws from her own space (API, her own key).
    response = alice.client.post(
        "/api/contributors/me/withdrawals",
        {"datasetId": dataset.public_id, "reason": "I changed my mind"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    withdrawal = response.json()
    assert withdrawal["members"] == 2 and withdrawal["status"] == "open"
    # Withdrawing again is refused; nothing changes.
    assert_error(
        alice.client.post(
            "/api/contributors/me/withdrawals", {"datasetId": dataset.public_id}, format="json"
        ),
        409,
        "consent_already_withdrawn",
    )

    # Both grant holders received one signed manifest naming exactly Alice's members.
    alice_digests = c.digests("clips/alice/")
    manifests = {}
    for buyer in (first, second):
        listed = buyer.client.get("/api/deletion-manifests").json()["items"]
        assert len(listed) == 1
        (manifest,) = listed
        claims = verify_offline(manifest["manifest"])
        assert claims["type"] == "deletion-manifest"
        assert claims["dataset"]["id"] == dataset.public_id
        assert claims["grant"]["id"] == grants[buyer.org.pk].public_id
        assert claims["deadline"] == withdrawal["deadline"]
        assert [v["number"] for v in claims["versions"]] == [1]
        assert {m["sha256"] for m in claims["members"]} == alice_digests
        assert sorted(m["path"] for m in claims["members"]) == [
            "clips/alice/a1.wav",
            "clips/alice/a2.wav",
        ]
        # Never who withdrew.
        assert ALICE not in manifest["manifest"] and "alice@" not in json.dumps(claims)
        # The same manifest came as a `consent.withdrawn` event (polling = webhooks).
        events = buyer.client.get("/api/events", {"limit": 200}).json()["items"]
        (event,) = [e for e in events if e["type"] == "consent.withdrawn"]
        assert event["data"]["manifest"] == manifest["manifest"]
        manifests[buyer.org.pk] = manifest
    # Another organisation sees none of them.
    assert outsider.client.get("/api/deletion-manifests").json()["items"] == []
    some = manifests[first.org.pk]["id"]
    assert_error(outsider.client.get(f"/api/deletion-manifests/{some}"), 404)
    assert_error(outsider.client.post(f"/api/deletion-manifests/{some}/acknowledge"), 404)

    # The share table has a new version without Alice, in force now; the ledger is untouched.
    table = ShareTable.objects.filter(dataset=dataset).order_by("-version").first()
    assert withdrawal["shareTableVersion"] == table.version
    assert sorted(table.lines.values_list("payee_id", "weight")) == sorted(
        [(org_payee.pk, 8_000), (bob_payee.pk, 2_000)]
    )
    assert (pending(org_payee), pending(alice_payee), pending(bob_payee)) == before

    # The provider sees the obligation: open, two licensees yet to acknowledge.
    listed = provider.client.get(f"/api/datasets/{dataset.public_id}/consent-withdrawals")
    (row,) = listed.json()["items"]
    assert row["status"] == "open" and row["unacknowledged"] == 2 and row["members"] == 2

    # A new version that still holds one of Alice's files (under another path) fails.
    kept = {
        "clips/misc/renamed.wav": c.files["clips/alice/a1.wav"],
        "clips/bob/b1.wav": c.files["clips/bob/b1.wav"],
    }
    upload_bytes(api(provider.secret), c.submission_id, archive(kept))
    failed = withdrawn_check(c.submission_id)
    assert failed.status == "fail"
    assert "clips/misc/renamed.wav" in failed.summary and "upload" in failed.summary
    assert [m["sha256"] for m in failed.details["members"]] == [sha(c.files["clips/alice/a1.wav"])]
    submission = Submission.objects.get(public_id=c.submission_id)
    assert submission.status == Submission.Status.APPROVED  # still published as it was
    assert Dataset.objects.get(pk=dataset.pk).latest_version.number == 1
    assert ConsentWithdrawal.objects.get(public_id=withdrawal["id"]).status == "open"

    # Without Alice's files the checks pass, and publishing meets the obligation.
    upload_bytes(
        api(provider.secret),
        c.submission_id,
        archive({"clips/bob/b1.wav": c.files["clips/bob/b1.wav"]}),
    )
    assert withdrawn_check(c.submission_id).status == "pass"
    submission = Submission.objects.get(public_id=c.submission_id)
    assert submission.status == Submission.Status.IN_REVIEW
    version = submission_approve(submission=submission, actor=make_user(is_staff=True))
    assert version.number == 2
    done = ConsentWithdrawal.objects.get(public_id=withdrawal["id"])
    assert done.status == "fulfilled" and done.fulfilled_by_version_id == version.pk

    # The buyers acknowledge (once; again changes nothing).
    for buyer in (first, second):
        manifest_id = manifests[buyer.org.pk]["id"]
        ack = buyer.client.post(f"/api/deletion-manifests/{manifest_id}/acknowledge")
        assert ack.status_code == 200 and ack.json()["acknowledgedAt"]
        again = buyer.client.post(f"/api/deletion-manifests/{manifest_id}/acknowledge")
        assert again.json()["acknowledgedAt"] == ack.json()["acknowledgedAt"]
    (row,) = provider.client.get(f"/api/datasets/{dataset.public_id}/consent-withdrawals").json()[
        "items"
    ]
    assert row["status"] == "fulfilled" and row["unacknowledged"] == 0
    assert all(m["acknowledgedAt"] for m in row["manifests"])

    # Earnings after: a sale now pays Alice nothing; what she earned before stays hers.
    third, _ = buyers()
    buy(third, dataset)
    assert (pending(org_payee), pending(alice_payee), pending(bob_payee)) == (
        before[0] + 800 * M,
        before[1],
        before[2] + 200 * M,
    )
    assert ledger_verify().ok
    (entry,) = training_data_summary(organization=first.org)["datasets"]
    assert entry["withdrawalsHandled"] == 1 and ALICE not in entry["withdrawalsNote"]

    # The public card says how many withdrawals were handled, never who.
    page = Client().get(f"/datasets/{dataset.slug}").content.decode()
    assert 'data-consent-withdrawals="1"' in page and "1 withdrawal handled" in page
    assert ALICE not in page
