"""The licensee's compliance pack (`GET /api/compliance/training-data-summary` and
/library/compliance): datasets published the production way (ingestion statistics computed by
the checks), grants issued by the grants service; the JSON validates against the JSON Schema
committed in the repo, its numbers are the versions' own statistics, only the caller's
organisation's grants in force are summarised (revoked and expired ones listed apart), and the
printable page shows the same."""

import json
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing.compliance import TEMPLATE, training_data_summary
from licensing.models import Certificate, Grant
from licensing.selectors import dataset_terms
from licensing.services.grants import grant_issue, grant_revoke
from tests.assertions import assert_error
from tests.licensing.conftest import publish

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:EdDSA is deprecated:UserWarning"),
]

SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[2]
        / "licensing"
        / "schemas"
        / "training_data_summary.schema.json"
    ).read_text()
)
URL = "/api/compliance/training-data-summary"
ETHICS = "Speakers signed a consent form allowing use for training speech models."


def grant(party, dataset, **kwargs) -> Grant:
    return grant_issue(
        organization=party.org,
        dataset=dataset,
        terms_hash=dataset_terms(dataset).hash,
        source=Grant.Source.STAFF,
        actor=party.user,
        **kwargs,
    )


def validate(body: dict) -> None:
    jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(body)


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def licensed(provider, buyer):
    """Two datasets the buyer holds grants in force for (one with two grants), one whose grant
    was revoked."""
    speech = publish(
        provider,
        "Welsh read speech",
        size=6_000,
        ethicalReviewProcess=ETHICS,
        containsPersonalData=True,
    )
    chat = publish(provider, "Breton chat", size=3_000, locale="br", task="NLP")
    gone = publish(provider, "Withdrawn corpus", size=2_000)
    grants = {
        "speech": [grant(buyer, speech), grant(buyer, speech)],
        "chat": [grant(buyer, chat)],
        "gone": [grant_revoke(grant=grant(buyer, gone), actor=None, reason="refund")],
    }
    return {"speech": speech, "chat": chat, "gone": gone}, grants


def test_json_validates_against_the_committed_schema_and_numbers_are_the_statistics(
    buyer, licensed
):
    datasets, grants = licensed
    response = buyer.client.get(URL)
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    validate(body)
    assert body["template"] == TEMPLATE
    assert "July 2025" in body["template"]

    by_id = {d["datasetId"]: d for d in body["datasets"]}
    assert set(by_id) == {datasets["speech"].public_id, datasets["chat"].public_id}
    for key in ("speech", "chat"):
        dataset = datasets[key]
        version = dataset.latest_version
        entry = by_id[dataset.public_id]
        statistics = version.statistics
        # The ingestion checks counted something, and the pack reports exactly that.
        assert statistics["total_rows"] > 0 and statistics["audio_seconds"] > 0
        assert entry["size"]["bytes"] == version.size_bytes == dataset.size_bytes
        assert entry["size"]["rows"] == statistics["total_rows"]
        assert entry["size"]["audioHours"] == statistics["audio_hours"]
        assert entry["size"]["audioSeconds"] == statistics["audio_seconds"]
        assert entry["size"]["files"] == sum(statistics["files_by_type"].values())
        assert entry["version"] == version.number
        assert entry["versionSha256"] == version.sha256
        assert entry["provider"]["name"] == dataset.organization.name
        assert entry["languages"] == [dataset.locale]
        assert entry["timeSpan"] is None and entry["timeSpanReason"]
        assert entry["withdrawalsHandled"] == 0 and "No contributor" in entry["withdrawalsNote"]
        assert entry["croissant"]["url"].endswith(f"/api/datasets/{dataset.public_id}/croissant")
        held = grants[key]
        assert [g["grantId"] for g in entry["grants"]] == [g.public_id for g in held]
        assert entry["termsHashes"] == sorted({g.terms_hash for g in held})
        assert entry["licenseIds"] == ["CC-BY-4.0"]
        assert entry["certificateIds"] == list(
            Certificate.objects.filter(grant__in=held)
            .order_by("grant__created_at", "grant__pk", "issued_at", "pk")
            .values_list("public_id", flat=True)
        )
        assert entry["certificateIds"]
    assert body["totals"] == {
        "datasets": 2,
        "bytes": sum(datasets[k].latest_version.size_bytes for k in ("speech", "chat")),
        "rows": sum(
            datasets[k].latest_version.statistics["total_rows"] for k in ("speech", "chat")
        ),
        "audioHours": round(
            sum(datasets[k].latest_version.statistics["audio_hours"] for k in ("speech", "chat")),
            4,
        ),
    }

    speech = by_id[datasets["speech"].public_id]
    assert "audio" in speech["modalities"] and "text" in speech["modalities"]
    assert speech["consent"]["containsPersonalData"] is True
    assert {"field": "ethicalReviewProcess", "text": ETHICS} in speech["consent"]["statements"]
    assert by_id[datasets["chat"].public_id]["languages"] == ["br"]

    # The Croissant link is live and carries the RAI vocabulary the pack points at.
    croissant = buyer.client.get(f"/api/datasets/{datasets['speech'].public_id}/croissant")
    assert croissant.status_code == 200
    assert croissant.json()["rai:dataBiases"] == ETHICS


def test_revoked_and_expired_grants_are_listed_apart_not_summarised(buyer, provider, licensed):
    datasets, grants = licensed
    temporary = publish(provider, "Short lease", size=2_000)
    lease = grant(buyer, temporary, expires_at=timezone.now() + timedelta(days=30))

    now = timezone.now()
    body = training_data_summary(organization=buyer.org, now=now)
    validate(body)
    summarised = {d["datasetId"] for d in body["datasets"]}
    assert temporary.public_id in summarised
    assert datasets["gone"].public_id not in summarised
    assert body["excludedGrants"] == [
        {
            "grantId": grants["gone"][0].public_id,
            "datasetId": datasets["gone"].public_id,
            "datasetName": "Withdrawn corpus",
            "status": "revoked",
            "revokedAt": grants["gone"][0].revoked_at.isoformat(),
            "expiresAt": None,
        }
    ]

    later = training_data_summary(organization=buyer.org, now=now + timedelta(days=31))
    validate(later)
    assert temporary.public_id not in {d["datasetId"] for d in later["datasets"]}
    excluded = {g["grantId"]: g["status"] for g in later["excludedGrants"]}
    assert excluded == {grants["gone"][0].public_id: "revoked", lease.public_id: "expired"}
    assert later["totals"]["datasets"] == 2


def test_only_the_callers_organisation(buyer, outsider, provider, licensed):
    datasets, grants = licensed
    theirs = publish(provider, "Outsider's licence", size=2_000)
    their_grant = grant(outsider, theirs)

    mine = buyer.client.get(URL).json()
    text = json.dumps(mine)
    assert theirs.public_id not in text and their_grant.public_id not in text
    assert mine["organization"]["slug"] == buyer.org.slug

    body = outsider.client.get(URL).json()
    validate(body)
    assert [d["datasetId"] for d in body["datasets"]] == [theirs.public_id]
    assert body["excludedGrants"] == []
    text = json.dumps(body)
    for held in (*grants["speech"], *grants["chat"], *grants["gone"]):
        assert held.public_id not in text
    assert datasets["speech"].public_id not in text

    page = browser(outsider.user).get("/library/compliance").content.decode()
    assert theirs.public_id in page
    assert datasets["speech"].public_id not in page and grants["gone"][0].public_id not in page


def test_an_organisation_without_grants_gets_an_empty_valid_summary(outsider):
    body = outsider.client.get(URL).json()
    validate(body)
    assert body["datasets"] == [] and body["excludedGrants"] == []
    assert body["totals"] == {"datasets": 0, "bytes": 0, "rows": 0, "audioHours": 0}


def test_authentication_required():
    assert_error(Client().get(URL), 401)
    response = Client().get("/library/compliance")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_printable_page_lists_the_same(buyer, licensed):
    datasets, grants = licensed
    client = browser(buyer.user)
    library = client.get("/library").content.decode()
    assert 'href="/library/compliance"' in library

    response = client.get("/library/compliance")
    assert response.status_code == 200
    page = response.content.decode()
    body = buyer.client.get(URL).json()
    assert TEMPLATE in page
    assert "licensing/compliance.css" in page and "style=" not in page
    for entry in body["datasets"]:
        assert f'data-dataset-id="{entry["datasetId"]}"' in page
        block = page.split(f'data-dataset-id="{entry["datasetId"]}"', 1)[1].split("</article>")[0]
        assert f"<span data-bytes>{entry['size']['bytes']}</span>" in block
        assert f"<span data-rows>{entry['size']['rows']}</span>" in block
        assert f"<span data-audio-hours>{entry['size']['audioHours']}</span>" in block
        assert f"<span data-withdrawals>{entry['withdrawalsHandled']}</span>" in block
        for value in (*entry["termsHashes"], *entry["certificateIds"], entry["croissant"]["url"]):
            assert value in block
    assert datasets["gone"].public_id not in page.split("excluded-heading")[0]
    assert f'data-excluded-grant="{grants["gone"][0].public_id}"' in page
    assert ETHICS in page


def test_query_count_does_not_grow_with_grants(buyer, provider, licensed):
    with CaptureQueriesContext(connection) as few:
        training_data_summary(organization=buyer.org)
    for n in range(3):
        grant(buyer, publish(provider, f"More data {n}", size=2_000))
    with CaptureQueriesContext(connection) as more:
        body = training_data_summary(organization=buyer.org)
    assert body["totals"]["datasets"] == 5
    assert len(more.captured_queries) == len(few.captured_queries) <= 4
