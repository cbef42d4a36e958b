"""Submissions: the datasheet a provider writes, its review state machine and deletion.

draft → submitted → checking → in_review → approved | rejected; deleted (410). A rejected
submission can be edited (back to draft) and submitted again; an approved one is published and
only a new upload changes it (a new version, reviewed again)."""

import logging

from django.db import transaction
from django.utils import timezone

from marketplace.actors import Actor
from marketplace.models import FileUpload, Organization, Submission, User
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from marketplace.services.ingestion import checks_start
from marketplace.tasking import task_enqueue_on_commit

logger = logging.getLogger(__name__)

S = Submission.Status
EDITABLE = {S.DRAFT, S.REJECTED}
UPLOADABLE = {S.DRAFT, S.REJECTED, S.APPROVED}
DELETABLE = {S.DRAFT, S.REJECTED, S.SUBMITTED, S.CHECKING, S.IN_REVIEW}

# Datasheet fields a PATCH may set, with the check each value must pass.
MAX_PRICE_CENTS = 100_000_000  # $1,000,000


def upload_rights_require(*, actor: Actor) -> None:
    """Uploads and submissions need an approved organisation and, through the API, a key made
    after approval (a browser session of a member of an approved organisation can upload)."""
    org = actor.organization
    if org.upload_access != Organization.UploadAccess.APPROVED:
        raise Forbidden(
            "Your organisation is not approved to upload datasets. An owner can request upload "
            "access (POST /api/organization/upload-access); staff review it.",
            code="upload_access_required",
        )
    if not actor.can_upload:
        raise Forbidden(
            "This API key was created before your organisation was approved for uploads. "
            "Create a new key to upload.",
            code="key_predates_upload_approval",
        )


def submission_get_for_org(
    *, organization: Organization, submission_id: str, lock=False
) -> Submission:
    """Another organisation's submission is 404, never 403 (no existence leak)."""
    qs = Submission.objects.filter(organization=organization, public_id=submission_id)
    if lock:
        qs = qs.select_for_update()
    submission = qs.first()
    if submission is None:
        raise NotFound(f"Submission {submission_id} not found.")
    if submission.status == S.DELETED:
        raise Gone(f"Submission {submission_id} was deleted.")
    return submission


@transaction.atomic
def submission_create(*, actor: Actor, name: str) -> Submission:
    upload_rights_require(actor=actor)
    name = (name or "").strip()
    if not name:
        raise Invalid("name: must not be empty.")
    submission = Submission.objects.create(
        organization=actor.organization, created_by=actor.user, name=name[:200]
    )
    audit_record(
        actor=actor, organization=actor.organization, action="submission.create", obj=submission
    )
    return submission


def _validate_update(submission: Submission, data: dict) -> None:
    visibility = data.get("visibility", submission.visibility)
    is_paid = data.get("is_paid", submission.is_paid)
    price = data.get("base_price_cents", submission.base_price_cents)
    if is_paid:
        if price is None:
            raise Invalid("basePriceCents: required when isPaid is true.")
        if not 50 <= price <= MAX_PRICE_CENTS:
            raise Invalid(f"basePriceCents: must be between 50 and {MAX_PRICE_CENTS} cents.")
        if visibility == "private":
            raise Invalid("isPaid: a private dataset cannot be sold; make it public or restricted.")
    if data.get("currency", "usd") != "usd":
        raise Invalid("currency: only 'usd' is supported.")
    if data.get("auto_approve_access_requests") and visibility != "restricted":
        raise Invalid("autoApproveAccessRequests: only applies to restricted datasets.")


@transaction.atomic
def submission_update(*, actor: Actor, submission_id: str, data: dict) -> Submission:
    """Partial update of the datasheet (idempotent). Rejected submissions return to draft. The
    price (isPaid, basePriceCents, currency) is an owner's decision."""
    upload_rights_require(actor=actor)
    submission = submission_get_for_org(
        organization=actor.organization, submission_id=submission_id, lock=True
    )
    if submission.status == S.APPROVED:
        raise Forbidden(
            "This submission is published; its datasheet can no longer be edited.",
            code="submission_published",
        )
    if submission.status not in EDITABLE:
        raise Forbidden(
            f"This submission is {submission.status} and cannot be edited until reviewed.",
            code="submission_locked",
        )
    _validate_update(submission, data)
    price_fields = ("is_paid", "base_price_cents", "currency")
    changes_price = any(f in data and data[f] != getattr(submission, f) for f in price_fields)
    if changes_price and not actor.is_owner:
        raise Forbidden(
            "isPaid: only an owner of the organisation can change the price.",
            code="owner_required",
        )
    if data.get("is_paid") is False:
        data = {**data, "base_price_cents": None}
    changed = []
    for field, value in data.items():
        if getattr(submission, field) != value:
            setattr(submission, field, value)
            changed.append(field)
    if submission.status == S.REJECTED and changed:
        submission.status = S.DRAFT
        changed.append("status")
    if changed:
        submission.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor=actor,
            organization=actor.organization,
            action="submission.update",
            obj=submission,
            data={"fields": sorted(changed)},
        )
    return submission


def submission_missing_for_submit(submission: Submission) -> list[str]:
    """What a submission still lacks before it can be submitted (the API's and the web's list)."""
    missing = []
    for field, label in (
        ("name", "name"),
        ("short_description", "shortDescription"),
        ("long_description", "longDescription"),
        ("locale", "locale"),
        ("task", "task"),
        ("format", "format"),
        ("license_abbreviation", "licenseAbbreviation"),
    ):
        if not getattr(submission, field):
            missing.append(label)
    custom = submission.license_abbreviation.startswith("LicenseRef-")
    if custom and not submission.license:
        missing.append("license")
    upload = submission.file_upload
    if upload is None or upload.state != FileUpload.State.COMPLETED:
        missing.append("a completed dataset upload")
    return missing


@transaction.atomic
def submission_submit(*, actor: Actor, submission_id: str, agree: bool) -> Submission:
    upload_rights_require(actor=actor)
    if agree is not True:
        raise Invalid("agreeToSubmit: must be true.")
    submission = submission_get_for_org(
        organization=actor.organization, submission_id=submission_id, lock=True
    )
    if submission.status in {S.SUBMITTED, S.CHECKING, S.IN_REVIEW}:
        raise Conflict(f"This submission is already {submission.status}.", code="already_submitted")
    if submission.status == S.APPROVED:
        raise Forbidden(
            "This submission is already published. Upload a new file to publish a new " "version.",
            code="submission_published",
        )
    missing = submission_missing_for_submit(submission)
    if missing:
        raise Invalid(f"Cannot submit: missing {', '.join(missing)}.", missing=missing)
    return _submission_mark_submitted(submission=submission, actor=actor)


def _submission_mark_submitted(*, submission: Submission, actor: Actor | User | None) -> Submission:
    submission.status = S.SUBMITTED
    submission.submitted_at = timezone.now()
    submission.review_note = ""
    submission.save(update_fields=["status", "submitted_at", "review_note", "updated_at"])
    audit_record(
        actor=actor,
        organization=submission.organization,
        action="submission.submit",
        obj=submission,
    )
    task_enqueue_on_commit("marketplace.tasks.submission_process_submitted", submission.pk)
    return submission


@transaction.atomic
def submission_after_submit(*, submission_pk: int) -> Submission:
    """The hook between `submitted` and `in_review`: the automatic ingestion checks run on every
    uploaded file (marketplace.services.ingestion). Idempotent."""
    submission = (
        Submission.objects.select_for_update(of=("self",))
        .select_related("file_upload", "sample_upload", "organization")
        .get(pk=submission_pk)
    )
    if submission.status != S.SUBMITTED:
        return submission
    checks_start(submission=submission)
    return submission


@transaction.atomic
def submission_delete(*, actor: Actor, submission_id: str) -> Submission:
    """Discard an unpublished submission; its in-progress uploads are aborted and its stored
    files deleted after commit."""
    upload_rights_require(actor=actor)
    submission = submission_get_for_org(
        organization=actor.organization, submission_id=submission_id, lock=True
    )
    if submission.status not in DELETABLE:
        raise Forbidden("A published submission cannot be deleted.", code="submission_published")
    submission.status = S.DELETED
    submission.deleted_at = timezone.now()
    submission.save(update_fields=["status", "deleted_at", "updated_at"])
    audit_record(
        actor=actor, organization=actor.organization, action="submission.delete", obj=submission
    )
    task_enqueue_on_commit("marketplace.tasks.submission_files_purge", submission.pk)
    return submission


def submission_resubmit_for_new_version(
    *, submission: Submission, actor: Actor | User | None
) -> Submission:
    """A completed upload on a published submission: the new file goes through review again and
    becomes the next version once approved. Called inside the completing transaction."""
    return _submission_mark_submitted(submission=submission, actor=actor)
