"""A member mapping saved after a consent withdrawal back-fills it (issue 13 §2, follow-up): the
withdrawal gets the members the mapping gives to the contributor, every licensee told before gets
a new revision of its signed deletion manifest naming them (the earlier one no longer waits for
an acknowledgement), the ingestion checks of a new version look for them, and a withdrawal
already fulfilled by a version that still holds them is open again. Saving the same mapping
again changes nothing."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from contributors.models import ConsentWithdrawal
from contributors.services.withdrawals import withdrawals_handled
from licensing.models import DeletionManifest
from marketplace.models import AuditEvent, Submission
from marketplace.services.ingestion import withdrawn_members_finding
from marketplace.services.review import submission_approve
from tests.catalogue_helpers import api, upload_bytes
from tests.consent.helpers import ALICE, BOB, archive, buy, sha, shared_corpus, verify_offline
from tests.factories import make_user
from tests.parties import party

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:EdDSA is deprecated:UserWarning"),
]

MAPPING = {
    "mappings": [
        {"email": ALICE, "pathPrefix": "clips/alice/"},
        {"email": BOB, "pathPrefix": "clips/bob/"},
    ]
}


@pytest.fixture
def unmapped(provider):
    """A published dataset whose shares name Alice and Bob, and no member mapping yet."""
    return shared_corpus(provider)


def withdraw(provider, dataset, email: str) -> ConsentWithdrawal:
    response = provider.client.post(
        f"/api/datasets/{dataset.public_id}/consent-withdrawals", {"email": email}, format="json"
    )
    assert response.status_code == 201, response.json()
    return ConsentWithdrawal.objects.get(public_id=response.json()["id"])


def map_members(provider, dataset) -> None:
    response = provider.client.put(
        f"/api/datasets/{dataset.public_id}/member-mapping", MAPPING, format="json"
    )
    assert response.status_code == 200, response.json()


def test_a_mapping_after_a_withdrawal_names_its_members_to_every_licensee(provider, unmapped):
    c = unmapped
    buyer = party()
    grant = buy(buyer, c.dataset)
    withdrawal = withdraw(provider, c.dataset, BOB)
    first = DeletionManifest.objects.get(grant=grant)
    claims = verify_offline(first.token)
    assert (claims["members"], claims["revision"], claims["supersedes"]) == ([], 1, None)
    files = [[p, len(b), sha(b)] for p, b in c.files.items()]
    # Before the mapping nothing names Bob's file: a new version holding it would pass.
    finding = withdrawn_members_finding(dataset_id=c.dataset.pk, manifest=files)
    assert finding["status"] == "pass"

    map_members(provider, c.dataset)

    assert sorted(withdrawal.members.values_list("path", flat=True)) == ["clips/bob/b1.wav"]
    (added,) = AuditEvent.objects.filter(action="consent.withdrawal_members_added")
    assert added.data["members"] == 1 and added.data["reopened"] is False
    second = DeletionManifest.objects.get(grant=grant, revision=2)
    assert second.supersedes == first and second.deadline == withdrawal.deadline
    claims = verify_offline(second.token)
    assert {m["sha256"] for m in claims["members"]} == c.digests("clips/bob/")
    assert (claims["revision"], claims["supersedes"], claims["sub"]) == (
        2,
        first.public_id,
        grant.public_id,
    )
    # The licensee hears of it as it heard of the first: a consent.withdrawn event.
    events = [
        e
        for e in buyer.client.get("/api/events").json()["items"]
        if e["type"] == "consent.withdrawn"
    ]
    assert [(e["data"]["revision"], e["data"]["members"]) for e in events] == [(1, 0), (2, 1)]
    assert events[1]["data"]["supersedes"] == first.public_id
    assert events[1]["data"]["manifest"] == second.token
    # Only the latest revision waits for an acknowledgement, in the API and on the pages.
    assert list(DeletionManifest.objects.unacknowledged()) == [second]
    listed = {m["id"]: m for m in buyer.client.get("/api/deletion-manifests").json()["items"]}
    assert listed[first.public_id]["supersededBy"] == second.public_id
    assert listed[second.public_id]["supersedes"] == first.public_id
    assert listed[second.public_id]["supersededBy"] is None
    row = provider.client.get(f"/api/datasets/{c.dataset.public_id}/consent-withdrawals").json()
    assert row["items"][0]["unacknowledged"] == 1 and row["items"][0]["members"] == 1
    owner = Client()
    owner.force_login(provider.user)
    consent = owner.get(f"/organization/datasets/{c.dataset.public_id}/consent").content.decode()
    assert (
        "replaced by revision 2" in consent and "(revision 2): <strong>not acknowledged" in consent
    )
    licensee = Client()
    licensee.force_login(buyer.user)
    page = licensee.get("/library/deletion-manifests").content.decode()
    assert page.count('data-ack="replaced"') == 1 and page.count('data-ack="no"') == 1
    assert page.count(">Acknowledge</button>") == 1
    assert f'replaces <a href="#manifest-{first.public_id}">' in page
    staff = Client()
    staff.force_login(make_user(is_staff=True, is_superuser=True))
    admin = "/admin/licensing/deletionmanifest/?acknowledged="
    waiting = staff.get(admin + "no").content.decode()
    assert second.public_id in waiting and first.public_id not in waiting
    assert first.public_id in staff.get(admin + "replaced").content.decode()
    # A new version holding Bob's file now fails the checks.
    finding = withdrawn_members_finding(dataset_id=c.dataset.pk, manifest=files)
    assert finding["status"] == "fail" and finding["details"]["count"] == 1

    # The same mapping saved again adds nothing and signs nothing.
    map_members(provider, c.dataset)
    assert withdrawal.members.count() == 1
    assert DeletionManifest.objects.filter(grant=grant).count() == 2
    assert AuditEvent.objects.filter(action="consent.withdrawal_members_added").count() == 1


def test_a_fulfilled_withdrawal_opens_again_when_the_latest_version_holds_its_members(
    provider, unmapped
):
    c = unmapped
    bob = withdraw(provider, c.dataset, BOB)
    alice = withdraw(provider, c.dataset, ALICE)
    # A second version with Bob's file but none of Alice's: with no members named yet, both
    # withdrawals count as fulfilled by it.
    upload_bytes(
        api(provider.secret),
        c.submission_id,
        archive({"clips/bob/b1.wav": c.files["clips/bob/b1.wav"]}),
    )
    submission = Submission.objects.get(public_id=c.submission_id)
    v2 = submission_approve(submission=submission, actor=make_user(is_staff=True))
    for withdrawal in (bob, alice):
        withdrawal.refresh_from_db()
        assert withdrawal.status == "fulfilled" and withdrawal.fulfilled_by_version == v2
    assert withdrawals_handled(dataset_ids=[c.dataset.pk])[c.dataset.pk][0] == 2
    buyer = party()
    grant = buy(buyer, c.dataset)  # after both were fulfilled: no manifest
    assert not DeletionManifest.objects.filter(grant=grant).exists()
    before = timezone.now()

    map_members(provider, c.dataset)

    # Bob's file is in both versions, the latest included: his withdrawal is open again, with
    # a deadline counted from now.
    bob.refresh_from_db()
    assert sorted(bob.members.values_list("version__number", "path")) == [
        (1, "clips/bob/b1.wav"),
        (2, "clips/bob/b1.wav"),
    ]
    assert bob.status == "open" and bob.fulfilled_at is None and bob.fulfilled_by_version is None
    days = timedelta(days=settings.CONSENT_WITHDRAWAL_DEADLINE_DAYS)
    assert before + days <= bob.deadline <= timezone.now() + days
    # Alice's files are only in version 1: her withdrawal stays fulfilled, yet names them.
    alice.refresh_from_db()
    assert alice.status == "fulfilled" and alice.members.count() == 2
    audit = {
        e.data["withdrawal"]: e.data
        for e in AuditEvent.objects.filter(action="consent.withdrawal_members_added")
    }
    assert audit[bob.public_id]["reopened"] is True
    assert audit[alice.public_id]["reopened"] is False
    assert withdrawals_handled(dataset_ids=[c.dataset.pk])[c.dataset.pk][0] == 1
    # The grant in force (it may hold version 1) gets a first manifest of each, naming them.
    manifests = {
        m.withdrawal_id: m for m in DeletionManifest.objects.filter(grant=grant).order_by("pk")
    }
    assert {m.revision for m in manifests.values()} == {1}
    claims = verify_offline(manifests[bob.pk].token)
    assert {m["sha256"] for m in claims["members"]} == c.digests("clips/bob/")
    assert claims["deadline"] == bob.deadline.isoformat()
    claims = verify_offline(manifests[alice.pk].token)
    assert {m["sha256"] for m in claims["members"]} == c.digests("clips/alice/")
