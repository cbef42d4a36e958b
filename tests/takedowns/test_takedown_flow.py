"""Issue 13 §3 end to end: notice → accept → 410 on the API and a tombstone on the web →
`dataset.removed` delivered to a real receiver (grant not revoked) → counter-notice recorded;
the version-only takedown; the reject path."""

import json

import pytest
from django.core import mail
from django.test import TestCase
from rest_framework.test import APIClient

from licensing.models import DownloadSession, Grant
from licensing.selectors import dataset_terms
from licensing.services.downloads import download_session_start
from licensing.services.grants import grant_issue
from marketplace.models import AuditEvent, CounterNotice, TakedownNotice
from marketplace.services.errors import Gone
from tests.assertions import assert_error
from tests.events.test_webhooks import register
from tests.parties import party
from tests.staff.forms import change_form_data
from tests.takedowns.conftest import (
    CLAIMANT,
    NOTICES,
    accept_in_admin,
    browser,
    file_notice,
    staff_client,
)

pytestmark = pytest.mark.django_db


def polled(holder) -> list[dict]:
    return holder.client.get("/api/events", {"limit": 200}).json()["items"]


def test_notice_accept_tombstone_events_and_counter_notice(
    provider,
    buyer,
    paid_order,
    receiver,
    allow_loopback,
    reviewer_user,
    staff,
):
    dataset = paid_order.dataset
    # A second licensee, granted by staff, without a webhook endpoint (it polls).
    other = party()
    grant_issue(
        organization=other.org,
        dataset=dataset,
        terms_hash=dataset_terms(dataset).hash,
        source=Grant.Source.STAFF,
        actor=staff,
    )
    register(buyer, receiver.url(), types=["dataset.removed"])
    mail.outbox.clear()

    with TestCase.captureOnCommitCallbacks(execute=True):
        notice = file_notice(dataset)
    receipt, to_deciders = mail.outbox
    assert receipt.to == [CLAIMANT] and notice.reference in receipt.body
    # Staff who may decide are told (not staff without the takedown permission), with the
    # admin page to decide it on.
    assert to_deciders.to == [reviewer_user.email] and staff.email not in to_deciders.to
    assert notice.reference in to_deciders.subject
    assert f"/admin/marketplace/takedownnotice/{notice.pk}/change/" in to_deciders.body
    assert notice.status == "received" and notice.member_paths == [
        "audio/clip_0001.wav",
        "audio/clip_0002.wav",
    ]
    assert APIClient().get(f"/api/datasets/{dataset.public_id}").status_code == 200

    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        page = accept_in_admin(reviewer_user, notice)
    assert page.status_code == 200
    notice.refresh_from_db()
    assert notice.status == "accepted" and notice.decided_by == reviewer_user

    # 410 on the API, a tombstone on the web.
    assert_error(APIClient().get(f"/api/datasets/{dataset.public_id}"), 410, "dataset_removed")
    tombstone = APIClient().get(f"/datasets/{dataset.slug}")
    assert tombstone.status_code == 410
    text = tombstone.content.decode()
    dataset.refresh_from_db()
    assert f'removed on <time datetime="{dataset.removed_at.isoformat()}">' in text
    assert "reason category: <strong>Copyright</strong>" in text

    # The licensee's endpoint got the event once, signed, with what to do; the grant stands.
    (got,) = receiver.received
    event = json.loads(got.body)
    assert event["type"] == "dataset.removed" and event["data"]["dataset"] == dataset.public_id
    assert event["data"]["reasonCategory"] == "copyright"
    assert event["data"]["takedownNotice"] == notice.reference
    assert event["data"]["members"] == notice.member_paths
    assert event["data"]["grantRevoked"] is False and "delete" in event["data"]["whatToDo"]
    assert CLAIMANT not in got.body.decode()
    (polled_event,) = [e for e in polled(other) if e["type"] == "dataset.removed"]
    assert polled_event["data"]["reasonCategory"] == "copyright"
    assert Grant.objects.filter(dataset=dataset, status="active").count() == 2

    # The provider's owners are e-mailed, without the claimant's contact details.
    (told,) = [m for m in mail.outbox if provider.user.email in m.to]
    assert notice.reference in told.body and CLAIMANT not in told.body

    # The provider sees the notice (no contact details) and files a counter-notice.
    owner = browser(provider.user)
    listing = owner.get("/organization/takedowns")
    assert listing.status_code == 200 and notice.reference in listing.content.decode()
    detail = owner.get(f"/organization/takedowns/{notice.reference}")
    assert detail.status_code == 200
    assert CLAIMANT not in detail.content.decode()
    assert "audio/clip_0001.wav" in detail.content.decode()
    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        filed = owner.post(
            f"/organization/takedowns/{notice.reference}",
            {
                "statement": "We hold a written license from the speaker.",
                "contact": "legal@p.example",
            },
        )
    assert filed.status_code == 302
    counter = CounterNotice.objects.get(notice=notice)
    assert counter.filed_by == provider.user and counter.contact == "legal@p.example"
    to_claimant, to_deciders = mail.outbox
    assert to_claimant.to == [CLAIMANT] and "written license" in to_claimant.body
    assert to_deciders.to == [reviewer_user.email] and "written license" in to_deciders.body
    assert f"/admin/marketplace/takedownnotice/{notice.pk}/change/" in to_deciders.body
    # Once only.
    again = owner.post(
        f"/organization/takedowns/{notice.reference}", {"statement": "Again", "contact": "x"}
    )
    assert again.status_code == 409 and CounterNotice.objects.count() == 1
    # Staff see it in the admin.
    change = staff_client(reviewer_user).get(f"{NOTICES}{notice.pk}/change/")
    assert "written license from the speaker" in change.content.decode()

    actions = set(
        AuditEvent.objects.filter(
            object_id__in=[str(notice.pk), str(counter.pk), str(dataset.pk)]
        ).values_list("action", flat=True)
    )
    assert {
        "takedown_notice.file",
        "takedown_notice.accept",
        "dataset.remove",
        "takedown_notice.counter_notice",
    } <= actions


def test_a_version_takedown_removes_that_version_only(provider, buyer, paid_order, reviewer_user):
    from marketplace.models import Submission
    from marketplace.services.review import submission_approve
    from tests.catalogue_helpers import make_archive, upload_bytes

    dataset = paid_order.dataset
    submission = Submission.objects.get(dataset=dataset)
    upload_bytes(provider.client, submission.public_id, make_archive(3_000, seed=b"v2"))
    submission.refresh_from_db()
    submission_approve(submission=submission, actor=reviewer_user)

    def download(number=None):
        return download_session_start(
            actor=buyer.actor,
            id_or_slug=dataset.public_id,
            kind=DownloadSession.Kind.DATASET,
            user_agent="pytest",
            ip="127.0.0.1",
            version_number=number,
        )

    # The latest version (2) is taken down: the dataset falls back to version 1.
    notice = file_notice(dataset, version=2, basis="personal_data")
    with TestCase.captureOnCommitCallbacks(execute=True):
        accept_in_admin(reviewer_user, notice)
    card = buyer.client.get(f"/api/datasets/{dataset.public_id}")
    assert card.status_code == 200
    dataset.refresh_from_db()
    assert dataset.removed_at is None and dataset.latest_version.number == 1
    assert download().filename.endswith("-v1.tar.gz")
    with pytest.raises(Gone) as gone:
        download(2)
    assert gone.value.code == "version_removed"
    (event,) = [e for e in polled(buyer) if e["type"] == "dataset.removed"]
    assert event["data"]["version"] == 2 and event["data"]["reasonCategory"] == "personal_data"
    page = APIClient().get(f"/datasets/{dataset.slug}")
    assert page.status_code == 200
    assert page.content.decode().count("removed after a takedown notice") == 1

    # Then the last one left: the whole dataset goes.
    last = file_notice(dataset, version=1, basis="consent")
    with TestCase.captureOnCommitCallbacks(execute=True):
        accept_in_admin(reviewer_user, last)
    assert_error(buyer.client.get(f"/api/datasets/{dataset.public_id}"), 410, "dataset_removed")
    removed = [e for e in polled(buyer) if e["type"] == "dataset.removed"]
    assert [e["data"]["version"] for e in removed] == [2, None]
    assert removed[1]["data"]["reasonCategory"] == "consent"
    tombstone = APIClient().get(f"/datasets/{dataset.slug}")
    assert tombstone.status_code == 410
    assert "reason category: <strong>Consent</strong>" in tombstone.content.decode()
    assert Grant.objects.get(order_ref=paid_order.public_id).status == "active"


def test_reject_tells_the_claimant_why_and_removes_nothing(dataset, reviewer_user):
    notice = file_notice(dataset)
    url = f"{NOTICES}{notice.pk}/change/"
    client = staff_client(reviewer_user)
    # A rejection without a reason is refused next to the field.
    page = client.post(url, change_form_data(client, url, decision="reject", reason="  "))
    assert page.status_code == 200 and "needs a reason" in page.content.decode()
    notice.refresh_from_db()
    assert notice.status == "received"

    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        done = client.post(
            url,
            change_form_data(client, url, decision="reject", reason="The recordings are licensed."),
        )
    assert done.status_code == 302
    notice.refresh_from_db()
    assert notice.status == "rejected" and notice.decision_reason == "The recordings are licensed."
    (told,) = mail.outbox
    assert told.to == [CLAIMANT] and "The recordings are licensed." in told.body
    assert APIClient().get(f"/api/datasets/{dataset.public_id}").status_code == 200
    assert AuditEvent.objects.filter(action="takedown_notice.reject").count() == 1
    # Decided once: accepting it now is refused.
    accept_in_admin(reviewer_user, notice)
    notice.refresh_from_db()
    assert notice.status == "rejected"
    assert TakedownNotice.objects.get(pk=notice.pk).dataset.removed_at is None
