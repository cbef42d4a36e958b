"""The rules around a consent withdrawal: bad input changes nothing, another organisation's
dataset or manifest is 404, the provider can record a withdrawal on a contributor's behalf,
lists do not grow queries with rows, staff see overdue obligations and unacknowledged
manifests, and the compliance pack counts withdrawals handled (issue 13 §2)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from contributors.models import ConsentWithdrawal, MemberMapping, ShareTable
from licensing.compliance import training_data_summary
from licensing.models import DeletionManifest
from marketplace.models import AuditEvent
from marketplace.services.ingestion import withdrawn_members_finding
from tests.assertions import assert_error
from tests.catalogue_helpers import api
from tests.consent.helpers import (
    ALICE,
    BOB,
    buy,
    claimed,
    corpus,
    sha,
    shared_corpus,
    verify_offline,
)
from tests.factories import make_key, make_user
from tests.parties import party

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:EdDSA is deprecated:UserWarning"),
]


@pytest.fixture
def shared(provider):
    c = shared_corpus(provider)
    mapping = [
        {"email": ALICE, "pathPrefix": "clips/alice/"},
        {"email": BOB, "pathPrefix": "clips/bob/"},
    ]
    response = provider.client.put(
        f"/api/datasets/{c.dataset.public_id}/member-mapping", {"mappings": mapping}, format="json"
    )
    assert response.status_code == 200, response.json()
    return c


def mapping_of(dataset) -> list[tuple[str, str]]:
    return sorted(
        MemberMapping.objects.filter(dataset=dataset).values_list(
            "contributor__email", "path_prefix"
        )
    )


SAVED = [(ALICE, "clips/alice/"), (BOB, "clips/bob/")]


@pytest.mark.parametrize(
    "body",
    [
        {"mappings": [{"email": "stranger@example.org", "pathPrefix": "clips/x/"}]},
        {"mappings": [{"email": ALICE, "pathPrefix": "/etc/"}]},
        {"mappings": [{"email": ALICE, "pathPrefix": "../up"}]},
        {"mappings": [{"email": ALICE, "pathPrefix": ""}]},
        {"mappings": [{"email": "not-an-email", "pathPrefix": "clips/"}]},
        {"mappings": [{"email": ALICE, "pathPrefix": "a/"}, {"email": ALICE, "pathPrefix": "a/"}]},
        {"mappings": "clips/"},
    ],
)
def test_a_bad_mapping_changes_nothing(provider, shared, body):
    url = f"/api/datasets/{shared.dataset.public_id}/member-mapping"
    assert_error(provider.client.put(url, body, format="json"), 422)
    assert mapping_of(shared.dataset) == SAVED


def test_a_bad_mapping_csv_changes_nothing_and_names_the_line(provider, shared):
    url = f"/api/datasets/{shared.dataset.public_id}/member-mapping.csv"
    body = assert_error(
        provider.client.put(url, f"{ALICE},clips/a/\n{BOB}\n".encode(), content_type="text/csv"),
        422,
    )
    assert "line 2" in body["message"]
    assert_error(provider.client.put(url, b"\xff\xfe\x00", content_type="text/csv"), 422)
    assert mapping_of(shared.dataset) == SAVED
    csv_text = provider.client.get(url).content.decode()
    assert csv_text == f"email,path prefix\n{ALICE},clips/alice/\n{BOB},clips/bob/\n"


def test_another_organisation_gets_404_everywhere(provider, outsider, shared):
    dataset_id = shared.dataset.public_id
    for method, url, body in [
        ("get", f"/api/datasets/{dataset_id}/member-mapping", None),
        ("put", f"/api/datasets/{dataset_id}/member-mapping", {"mappings": []}),
        ("get", f"/api/datasets/{dataset_id}/member-mapping.csv", None),
        ("get", f"/api/datasets/{dataset_id}/consent-withdrawals", None),
        ("post", f"/api/datasets/{dataset_id}/consent-withdrawals", {"email": ALICE}),
    ]:
        response = getattr(outsider.client, method)(url, body, format="json")
        assert_error(response, 404)
    assert mapping_of(shared.dataset) == SAVED
    assert not ConsentWithdrawal.objects.exists()
    # The provider's workspace page of the dataset too.
    browser = Client()
    browser.force_login(outsider.user)
    assert browser.get(f"/organization/datasets/{dataset_id}/consent").status_code == 404


def test_only_a_contributor_of_the_dataset_can_withdraw(provider, outsider, shared):
    alice = claimed(shared.dataset, ALICE)
    other = corpus(provider, "Unrelated corpus")
    # A dataset that does not name her is 404, like an unknown one.
    for dataset_id in (other.dataset.public_id, "ds_unknown"):
        assert_error(
            alice.client.post(
                "/api/contributors/me/withdrawals", {"datasetId": dataset_id}, format="json"
            ),
            404,
        )
    # A person who is no contributor at all.
    assert_error(
        outsider.client.post(
            "/api/contributors/me/withdrawals",
            {"datasetId": shared.dataset.public_id},
            format="json",
        ),
        404,
        "not_a_contributor",
    )
    # A reason too long is refused before anything happens.
    response = alice.client.post(
        "/api/contributors/me/withdrawals",
        {"datasetId": shared.dataset.public_id, "reason": "x" * 2001},
        format="json",
    )
    assert response.status_code in (400, 422)
    assert not ConsentWithdrawal.objects.exists()
    assert ShareTable.objects.filter(dataset=shared.dataset).count() == 1


def test_provider_records_a_withdrawal_on_behalf_of_a_contributor(provider, shared):
    url = f"/api/datasets/{shared.dataset.public_id}/consent-withdrawals"
    assert_error(
        provider.client.post(url, {"email": "stranger@example.org"}, format="json"),
        422,
        "not_a_contributor_of_dataset",
    )
    # A member who is not an owner may not.
    secret, _ = make_key(org=provider.org)  # a plain member
    assert_error(api(secret).post(url, {"email": BOB}, format="json"), 403)
    assert not ConsentWithdrawal.objects.exists()

    response = provider.client.post(url, {"email": BOB, "reason": "asked by phone"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["contributorEmail"], body["source"], body["members"]) == (BOB, "provider", 1)
    assert AuditEvent.objects.filter(action="consent.withdraw").count() == 1
    # The share table lost Bob; his 20 % went to the organisation.
    table = ShareTable.objects.filter(dataset=shared.dataset).order_by("-version").first()
    lines = table.lines.values_list("payee__contributor__email", "weight")
    assert sorted((email or "", weight) for email, weight in lines) == [
        ("", 7_000),
        (ALICE, 3_000),
    ]


def test_lists_do_not_grow_queries_with_rows(provider, shared):
    buyer = party()
    buy(buyer, shared.dataset)
    url = f"/api/datasets/{shared.dataset.public_id}/consent-withdrawals"
    provider.client.post(url, {"email": BOB}, format="json")

    def queries(client, path):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured.captured_queries)

    few = (queries(provider.client, url), queries(buyer.client, "/api/deletion-manifests"))
    for _ in range(2):
        buy(party(), shared.dataset)  # more licensees: each gets Bob's open withdrawal too
    provider.client.post(url, {"email": ALICE}, format="json")
    assert DeletionManifest.objects.count() == 1 + 2 + 3
    more = (queries(provider.client, url), queries(buyer.client, "/api/deletion-manifests"))
    assert more == few


def test_staff_see_overdue_obligations_and_unacknowledged_manifests(provider, shared, settings):
    settings.CONSENT_WITHDRAWAL_DEADLINE_DAYS = -1  # a deadline already past
    buyer = party()
    buy(buyer, shared.dataset)
    provider.client.post(
        f"/api/datasets/{shared.dataset.public_id}/consent-withdrawals",
        {"email": BOB},
        format="json",
    )
    withdrawal = ConsentWithdrawal.objects.get()
    manifest = DeletionManifest.objects.get()
    staff = Client()
    staff.force_login(make_user(is_staff=True, is_superuser=True))
    overdue = staff.get("/admin/contributors/consentwithdrawal/?overdue=yes").content.decode()
    assert withdrawal.public_id in overdue
    not_due = staff.get("/admin/contributors/consentwithdrawal/?overdue=open").content.decode()
    assert withdrawal.public_id not in not_due
    unacked = staff.get("/admin/licensing/deletionmanifest/?acknowledged=no").content.decode()
    assert manifest.public_id in unacked
    buyer.client.post(f"/api/deletion-manifests/{manifest.public_id}/acknowledge")
    unacked = staff.get("/admin/licensing/deletionmanifest/?acknowledged=no").content.decode()
    assert manifest.public_id not in unacked
    # The provider's workspace shows the overdue obligation.
    owner = Client()
    owner.force_login(provider.user)
    page = owner.get(f"/organization/datasets/{shared.dataset.public_id}").content.decode()
    assert "consent withdrawal" in page and "overdue" in page


def test_the_check_finding_and_the_compliance_pack(provider, shared):
    buyer = party()
    buy(buyer, shared.dataset)
    manifest = [[p, len(b), sha(b)] for p, b in shared.files.items()]
    # No withdrawal yet: no finding at all.
    assert withdrawn_members_finding(dataset_id=shared.dataset.pk, manifest=manifest) is None
    provider.client.post(
        f"/api/datasets/{shared.dataset.public_id}/consent-withdrawals",
        {"email": ALICE},
        format="json",
    )
    finding = withdrawn_members_finding(dataset_id=shared.dataset.pk, manifest=manifest)
    assert finding["status"] == "fail" and finding["details"]["count"] == 2
    assert "clips/alice/a1.wav" in finding["summary"]
    gone = [m for m in manifest if not m[0].startswith("clips/alice/")]
    assert withdrawn_members_finding(dataset_id=shared.dataset.pk, manifest=gone)["status"] == (
        "pass"
    )
    (entry,) = training_data_summary(organization=buyer.org)["datasets"]
    assert entry["withdrawalsHandled"] == 0 and "1 withdrawal(s) open" in entry["withdrawalsNote"]
    assert ALICE not in entry["withdrawalsNote"]


def test_a_grant_issued_while_a_withdrawal_is_open_gets_its_manifest_too(provider, shared):
    """A licensee who buys after the withdrawal, before the provider has published a version
    without the members, can download them: it gets the same signed manifest; once a version
    without them is published (the withdrawal fulfilled), a new licensee gets none."""
    url = f"/api/datasets/{shared.dataset.public_id}/consent-withdrawals"
    assert provider.client.post(url, {"email": BOB}, format="json").status_code == 201
    assert not DeletionManifest.objects.exists()  # nobody held a grant yet

    late = party()
    grant = buy(late, shared.dataset)
    manifest = DeletionManifest.objects.get(grant=grant)
    claims = verify_offline(manifest.token)
    assert {m["sha256"] for m in claims["members"]} == shared.digests("clips/bob/")
    assert claims["sub"] == grant.public_id
    events = late.client.get("/api/events").json()["items"]
    withdrawn = [e for e in events if e["type"] == "consent.withdrawn"]
    assert [e["data"]["manifest"] for e in withdrawn] == [manifest.token]

    ConsentWithdrawal.objects.update(status=ConsentWithdrawal.Status.FULFILLED)
    later = buy(party(), shared.dataset)
    assert not DeletionManifest.objects.filter(grant=later).exists()
    assert DeletionManifest.objects.count() == 1
