"""Revenue shares staged on a submission (ShareTableDraft): validated like a dataset's share table
when an owner saves them, locked while staff review, and made the dataset's share table by the
real review service when the version is published, with the invitations sent after commit."""

import pytest
from django.core import mail

from contributors.models import Contributor, ShareLine, ShareTable, ShareTableDraft
from contributors.services.payees import payee_for_organization
from contributors.services.share_drafts import (
    SharesInvalid,
    share_draft_get,
    share_draft_set,
    shares_check,
)
from contributors.services.shares import share_table_current
from marketplace.actors import actor_for_key
from marketplace.models import AuditEvent, DatasetVersion, Submission
from marketplace.services.errors import Conflict, Forbidden, Invalid
from marketplace.services.review import submission_approve, submission_reject
from tests.catalogue_helpers import DATASHEET, api, make_archive, upload_bytes
from tests.factories import make_key, make_user
from tests.parties import party

pytestmark = pytest.mark.django_db

ANA_BEN = [
    {"organization": True, "percent": "50"},
    {"email": "Ana@Example.org", "name": "Ana", "percent": "40"},
    {"email": "ben@example.org", "name": "Ben", "percent": "10"},
]


def ready_for_review(provider, *, name="Welsh read speech") -> Submission:
    """The steps of tests/catalogue_helpers.publish_dataset up to (not including) submitting:
    a draft submission with its datasheet and a completed upload."""
    client = api(provider.secret)
    sid = client.post("/api/submissions", {"name": name}, format="json").json()["submission"]["id"]
    assert client.patch(f"/api/submissions/{sid}", DATASHEET, format="json").status_code == 200
    upload_bytes(client, sid, make_archive(2_000, seed=name.encode()))
    return Submission.objects.get(public_id=sid)


def submit(provider, submission) -> Submission:
    response = api(provider.secret).post(
        f"/api/submissions/{submission.public_id}", {"agreeToSubmit": True}, format="json"
    )
    assert response.status_code == 200, response.json()
    submission.refresh_from_db()
    assert submission.status == Submission.Status.IN_REVIEW  # the checks ran (eager Celery)
    return submission


def approve(submission, reviewer, capture) -> tuple[DatasetVersion, list]:
    """Approve through the real review service; returns the version and the after-commit
    callbacks, not yet run (the test transaction never commits)."""
    with capture(execute=False) as callbacks:
        version = submission_approve(submission=submission, actor=reviewer)
    return version, callbacks


def lines_of(table: ShareTable) -> list[tuple]:
    return [
        (
            line.payee.organization_id is not None,
            line.payee.contributor.email if line.payee.contributor_id else "",
            line.name,
            line.weight,
        )
        for line in table.lines.select_related("payee__contributor").order_by("pk")
    ]


# --- saving a draft ------------------------------------------------------------------------


def test_an_owner_stages_shares_and_nothing_else_changes_before_approval(provider):
    submission = ready_for_review(provider)
    draft = share_draft_set(
        actor=provider.actor, submission=submission, basis="percentage", shares=ANA_BEN
    )
    assert (draft.basis, draft.line_count, draft.total_weight) == ("percentage", 3, 10_000)
    assert draft.lines[1] == {
        "organization": False,
        "email": "ana@example.org",  # normalised like a share table's
        "name": "Ana",
        "weight": 4_000,
    }
    assert draft.is_pending and draft.updated_by == provider.user
    # Nobody is recorded as a contributor (or invited) for a dataset that may never exist.
    assert not Contributor.objects.exists() and mail.outbox == []
    assert share_draft_get(submission=submission).pk == draft.pk
    event = AuditEvent.objects.get(action="share_draft.set")
    assert (event.actor, event.data["submission"], event.data["lines"]) == (
        provider.user,
        submission.public_id,
        3,
    )

    # The same table again changes nothing; a different one replaces the draft.
    again = share_draft_set(
        actor=provider.actor, submission=submission, basis="percentage", shares=ANA_BEN
    )
    assert again.pk == draft.pk and AuditEvent.objects.filter(action="share_draft.set").count() == 1
    share_draft_set(
        actor=provider.actor,
        submission=submission,
        basis="weight",
        shares=[{"email": "ana@example.org", "weight": 3}],
    )
    draft.refresh_from_db()
    assert (draft.basis, draft.line_count, draft.total_weight) == ("weight", 1, 3)
    assert ShareTableDraft.objects.count() == 1


def test_every_bad_line_is_reported_and_nothing_is_saved(provider):
    submission = ready_for_review(provider)
    shares = [
        {"organization": True, "percent": "50"},
        {"email": "not-an-address", "percent": "10"},
        {"email": "ana@example.org", "percent": "0"},
        {"email": "ben@example.org", "percent": "20.555"},
        {"email": "ANA@example.org", "percent": "10"},
        {"email": "cy@example.org", "weight": 5},
    ]
    with pytest.raises(SharesInvalid) as caught:
        share_draft_set(
            actor=provider.actor, submission=submission, basis="percentage", shares=shares
        )
    errors = caught.value.extra["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [
        (1, "email"),
        (2, "percent"),
        (3, "percent"),
        (4, "email"),
        (5, ""),
    ]
    assert "not a valid e-mail address" in errors[0]["message"]
    assert "more than 0" in errors[1]["message"]
    assert "at most 2 decimals" in errors[2]["message"]
    assert errors[3]["duplicateOf"] == 2 and "more than once" in errors[3]["message"]
    assert 'use "percent", not "weight"' in errors[4]["message"]
    assert caught.value.status_code == 422 and "5 lines" in caught.value.message
    assert not ShareTableDraft.objects.exists()


def test_the_whole_table_rules_are_share_table_set_s(provider, settings):
    submission = ready_for_review(provider)
    with pytest.raises(Invalid) as caught:
        share_draft_set(
            actor=provider.actor,
            submission=submission,
            basis="percentage",
            shares=[{"organization": True, "percent": "60"}, {"email": "a@x.org", "percent": "39"}],
        )
    assert caught.value.code == "shares_not_100"
    assert "sum to 99.00, not 100" in caught.value.message
    for basis, shares, text in [
        ("thirds", [{"organization": True, "weight": 1}], "basis: must be"),
        ("weight", [], "at least one share"),
        ("weight", "nope", "must be a list"),
    ]:
        with pytest.raises(Invalid, match=text):
            shares_check(basis=basis, shares=shares)
    settings.CONTRIBUTOR_SHARES_MAX_LINES = 2
    with pytest.raises(Invalid, match="at most 2 shares"):
        shares_check(basis="weight", shares=[{"email": f"{i}@x.org", "weight": 1} for i in "abc"])
    assert not ShareTableDraft.objects.exists()


def test_only_owners_of_the_submission_s_organisation_stage_shares(provider):
    submission = ready_for_review(provider)
    _secret, member_key = make_key(org=provider.org)  # a plain member
    with pytest.raises(Forbidden) as caught:
        share_draft_set(
            actor=actor_for_key(member_key),
            submission=submission,
            basis="percentage",
            shares=ANA_BEN,
        )
    assert caught.value.code == "owner_only"
    stranger = party(uploads=True)
    with pytest.raises(Forbidden):
        share_draft_set(
            actor=stranger.actor, submission=submission, basis="percentage", shares=ANA_BEN
        )
    assert not ShareTableDraft.objects.exists()


def test_shares_are_locked_while_staff_review_and_open_again_on_rejection(provider, staff):
    submission = submit(provider, ready_for_review(provider))
    with pytest.raises(Forbidden) as caught:
        share_draft_set(
            actor=provider.actor, submission=submission, basis="percentage", shares=ANA_BEN
        )
    assert caught.value.code == "submission_locked"
    submission_reject(submission=submission, actor=staff, reason="Clipped audio.")
    submission.refresh_from_db()
    assert submission.status == Submission.Status.REJECTED
    share_draft_set(actor=provider.actor, submission=submission, basis="percentage", shares=ANA_BEN)
    assert ShareTableDraft.objects.filter(submission=submission).exists()


# --- applied at approval -------------------------------------------------------------------


def test_approval_makes_the_draft_the_dataset_s_table_and_invites_after_commit(
    provider, staff, django_capture_on_commit_callbacks
):
    submission = ready_for_review(provider)
    share_draft_set(actor=provider.actor, submission=submission, basis="percentage", shares=ANA_BEN)
    submission = submit(provider, submission)
    version, callbacks = approve(submission, staff, django_capture_on_commit_callbacks)

    dataset = version.dataset
    table = ShareTable.objects.get(dataset=dataset)
    assert (table.version, table.basis, table.created_by) == (1, "percentage", provider.user)
    assert lines_of(table) == [
        (True, "", "", 5_000),
        (False, "ana@example.org", "Ana", 4_000),
        (False, "ben@example.org", "Ben", 1_000),
    ]
    assert share_table_current(dataset).pk == table.pk  # what the next sale splits over
    draft = ShareTableDraft.objects.get(submission=submission)
    assert not draft.is_pending and draft.applied_table == table
    event = AuditEvent.objects.get(action="share_table.apply_draft")
    assert event.actor == staff  # the approving context, not the owner
    assert event.object_id == str(table.pk)
    assert event.data | {"stagedAt": None} == {
        "dataset": dataset.public_id,
        "version": 1,
        "previousVersion": None,
        "created": True,
        "basis": "percentage",
        "lines": 3,
        "submission": submission.public_id,
        "datasetVersion": 1,
        "stagedBy": provider.user.pk,
        "stagedAt": None,
    }

    # The invitations wait for the commit.
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.org", "ben@example.org"]
    assert all(dataset.name in m.subject for m in mail.outbox)
    assert Contributor.objects.get(email="ana@example.org").invited_at is not None


def test_without_a_draft_the_dataset_gets_the_default_table_at_its_first_sale(
    provider, staff, django_capture_on_commit_callbacks
):
    submission = submit(provider, ready_for_review(provider))
    version, callbacks = approve(submission, staff, django_capture_on_commit_callbacks)
    for callback in callbacks:
        callback()
    assert not ShareTable.objects.filter(dataset=version.dataset).exists()
    assert not AuditEvent.objects.filter(action="share_table.apply_draft").exists()
    table = share_table_current(version.dataset)
    assert (table.version, table.basis) == (1, "percentage")
    assert [(line.payee, line.weight) for line in table.lines.all()] == [
        (payee_for_organization(provider.org), 10_000)
    ]
    assert mail.outbox == []


def test_a_published_submission_s_draft_applies_when_its_next_version_is_approved(
    provider, staff, django_capture_on_commit_callbacks
):
    submission = ready_for_review(provider)
    share_draft_set(actor=provider.actor, submission=submission, basis="percentage", shares=ANA_BEN)
    v1, callbacks = approve(submit(provider, submission), staff, django_capture_on_commit_callbacks)
    for callback in callbacks:
        callback()
    dataset = v1.dataset
    submission.refresh_from_db()
    assert submission.status == Submission.Status.APPROVED
    first = share_table_current(dataset)
    mail.outbox.clear()

    # Between versions the owner stages the next table; the one in force does not change.
    next_shares = [
        {"organization": True, "weight": 2},
        {"email": "ana@example.org", "name": "Ana", "weight": 1},
        {"email": "cy@example.org", "name": "Cy", "weight": 1},
    ]
    share_draft_set(actor=provider.actor, submission=submission, basis="weight", shares=next_shares)
    assert share_table_current(dataset).pk == first.pk
    # A new upload sends the submission back to review (the checks run eagerly).
    upload_bytes(api(provider.secret), submission.public_id, make_archive(2_500, seed=b"v2"))
    submission.refresh_from_db()
    assert submission.status == Submission.Status.IN_REVIEW
    with pytest.raises(Forbidden):
        share_draft_set(
            actor=provider.actor, submission=submission, basis="percentage", shares=ANA_BEN
        )

    v2, callbacks = approve(submission, staff, django_capture_on_commit_callbacks)
    assert v2.number == 2
    second = share_table_current(dataset)
    assert (second.version, second.basis) == (2, "weight")
    assert lines_of(second) == [
        (True, "", "", 2),
        (False, "ana@example.org", "Ana", 1),
        (False, "cy@example.org", "Cy", 1),
    ]
    assert lines_of(first)[1] == (False, "ana@example.org", "Ana", 4_000)  # never edited
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    # Ana's invitation of the first version is still live: only Cy is invited now.
    assert [m.to for m in mail.outbox] == [["cy@example.org"]]


def test_a_draft_equal_to_the_table_in_force_makes_no_new_version(
    provider, staff, django_capture_on_commit_callbacks
):
    submission = ready_for_review(provider)
    share_draft_set(actor=provider.actor, submission=submission, basis="percentage", shares=ANA_BEN)
    v1, _ = approve(submit(provider, submission), staff, django_capture_on_commit_callbacks)
    share_draft_set(actor=provider.actor, submission=submission, basis="percentage", shares=ANA_BEN)
    upload_bytes(api(provider.secret), submission.public_id, make_archive(2_500, seed=b"same"))
    approve(submission, staff, django_capture_on_commit_callbacks)
    assert list(
        ShareTable.objects.filter(dataset=v1.dataset).values_list("version", flat=True)
    ) == [1]
    events = AuditEvent.objects.filter(action="share_table.apply_draft").order_by("pk")
    assert [e.data["created"] for e in events] == [True, False]
    assert [e.data["datasetVersion"] for e in events] == [1, 2]
    assert not ShareTableDraft.objects.get(submission=submission).is_pending


def test_a_draft_that_cannot_be_applied_stops_the_approval(
    provider, staff, settings, django_capture_on_commit_callbacks
):
    submission = ready_for_review(provider)
    share_draft_set(actor=provider.actor, submission=submission, basis="percentage", shares=ANA_BEN)
    submission = submit(provider, submission)
    settings.CONTRIBUTOR_SHARES_MAX_LINES = 2  # lowered after the draft was saved
    with pytest.raises(Conflict) as caught:
        approve(submission, staff, django_capture_on_commit_callbacks)
    assert caught.value.code == "share_draft_invalid"
    assert "at most 2 shares" in caught.value.message
    submission.refresh_from_db()
    assert submission.status == Submission.Status.IN_REVIEW and submission.dataset_id is None
    assert not DatasetVersion.objects.filter(submission=submission).exists()
    assert ShareTableDraft.objects.get(submission=submission).is_pending
    assert not ShareLine.objects.exists() and mail.outbox == []


def test_another_organisation_s_version_does_not_take_this_draft(
    provider, staff, django_capture_on_commit_callbacks
):
    mine = ready_for_review(provider, name="Mine")
    share_draft_set(actor=provider.actor, submission=mine, basis="percentage", shares=ANA_BEN)
    other = party(uploads=True)
    theirs = submit(other, ready_for_review(other, name="Theirs"))
    version, _ = approve(theirs, make_user(is_staff=True), django_capture_on_commit_callbacks)
    assert not ShareTable.objects.filter(dataset=version.dataset).exists()
    assert ShareTableDraft.objects.get(submission=mine).is_pending
