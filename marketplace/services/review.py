"""Staff review: approve (publish a new immutable DatasetVersion) or reject with a reason."""

import re

from django.contrib.postgres.search import SearchVector
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from marketplace.catalogue_cache import catalogue_changed
from marketplace.events.signals import dataset_removed, dataset_version_published
from marketplace.models import CheckRun, Dataset, DatasetVersion, FileUpload, Submission, User
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Invalid
from marketplace.services.members import version_members_record

S = Submission.Status
CARD_FIELDS = [
    "name",
    "short_description",
    "long_description",
    "locale",
    "task",
    "format",
    "license_abbreviation",
    "license",
    "license_url",
    "visibility",
    "is_paid",
    "base_price_cents",
    "currency",
]
# Slugs that would shadow routes or look like our ids.
RESERVED_SLUGS = {"filters", "search", "new", "schema"}
_ID_LIKE = re.compile(r"^(ds|sub|fu)[a-z0-9]{20}$")


def _unique_slug(name: str) -> str:
    base = slugify(name)[:100].strip("-") or "dataset"
    if base in RESERVED_SLUGS or _ID_LIKE.match(base):
        base = f"{base}-dataset"
    candidate, n = base, 1
    while Dataset.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def dataset_search_refresh(*, dataset_pk: int) -> None:
    Dataset.objects.filter(pk=dataset_pk).update(
        search_vector=SearchVector("name", weight="A", config="english")
        + SearchVector("short_description", weight="B", config="english")
        + SearchVector("long_description", weight="C", config="english")
    )


def _verified_run(upload: FileUpload, what: str) -> CheckRun:
    """The checks of a file about to be published: passed or only warned, checksum verified."""
    run = CheckRun.objects.filter(upload=upload).first()
    if (
        run is None
        or run.status not in (CheckRun.Status.PASSED, CheckRun.Status.WARNED)
        or not run.verified_sha256
    ):
        raise Invalid(
            f"The {what} has not passed the automatic checks (its checksum is not verified); "
            "re-run the checks or reject the submission.",
            code="checks_not_passed",
        )
    return run


@transaction.atomic
def submission_approve(*, submission: Submission, actor: User) -> DatasetVersion:
    """Publish the submission's uploaded file as the dataset's next version. Every file it
    publishes (the archive and the sample) must have passed or only warned in its checks, with
    its checksum verified; the version records the verified SHA-256 and size of each."""
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    if submission.status != S.IN_REVIEW:
        raise Conflict(
            f"Only submissions in review can be approved (this one is {submission.status})."
        )
    upload = submission.file_upload
    if upload is None or upload.state != FileUpload.State.COMPLETED:
        raise Invalid("The submission has no completed dataset upload.")
    run = _verified_run(upload, "dataset archive")
    sample = submission.sample_upload
    if sample is not None and sample.state != FileUpload.State.COMPLETED:
        sample = None
    sample_run = _verified_run(sample, "sample archive") if sample else None
    now = timezone.now()
    dataset = submission.dataset
    if dataset is None:
        dataset = Dataset(organization=submission.organization, slug=_unique_slug(submission.name))
    else:
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    for field in CARD_FIELDS:
        setattr(dataset, field, getattr(submission, field))
    dataset.save()

    number = (dataset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=number,
        submission=submission,
        archive_key=upload.key,
        filename=f"{dataset.slug}-v{number}.tar.gz",
        size_bytes=run.verified_size or upload.stored_size,
        sha256=run.verified_sha256,
        sha256_verified=True,
        statistics=run.statistics,
        sample_key=sample.key if sample else "",
        sample_filename=f"{dataset.slug}-v{number}-sample.tar.gz" if sample else "",
        sample_size_bytes=(sample_run.verified_size or sample.stored_size) if sample else None,
        sample_sha256=sample_run.verified_sha256 if sample else "",
        published_at=now,
        published_by=actor,
    )
    version_members_record(version=version, run=run)
    dataset.latest_version = version
    dataset.size_bytes = version.size_bytes
    dataset.has_sample = bool(sample)
    dataset.published_at = dataset.published_at or now
    dataset.save(
        update_fields=["latest_version", "size_bytes", "has_sample", "published_at", "updated_at"]
    )
    dataset_search_refresh(dataset_pk=dataset.pk)
    catalogue_changed()

    submission.dataset = dataset
    submission.status = S.APPROVED
    submission.reviewed_at = now
    submission.reviewed_by = actor
    submission.save(update_fields=["dataset", "status", "reviewed_at", "reviewed_by", "updated_at"])
    audit_record(
        actor=actor,
        organization=submission.organization,
        action="submission.approve",
        obj=submission,
        data={"dataset": dataset.public_id, "version": number},
    )
    dataset_version_published.send(sender=DatasetVersion, version=version)
    return version


@transaction.atomic
def submission_reject(*, submission: Submission, actor: User, reason: str) -> Submission:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("A rejection needs a reason the organisation can read.")
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    if submission.status != S.IN_REVIEW:
        raise Conflict(
            f"Only submissions in review can be rejected (this one is {submission.status})."
        )
    # A published dataset whose new version is rejected stays published with its old version.
    submission.status = S.APPROVED if submission.dataset_id else S.REJECTED
    submission.review_note = reason
    submission.reviewed_at = timezone.now()
    submission.reviewed_by = actor
    submission.save(
        update_fields=["status", "review_note", "reviewed_at", "reviewed_by", "updated_at"]
    )
    audit_record(
        actor=actor,
        organization=submission.organization,
        action="submission.reject",
        obj=submission,
        data={"reason": reason},
    )
    return submission


@transaction.atomic
def dataset_remove(
    *, dataset: Dataset, actor: User, reason: str, details: dict | None = None
) -> Dataset:
    """Take a dataset off the platform: E3 answers 410 from then on. `details` (a takedown's
    reason category and what licensees should do) go into the `dataset.removed` event."""
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    if dataset.removed_at is None:
        dataset.removed_at = timezone.now()
        dataset.removal_reason = reason
        dataset.save(update_fields=["removed_at", "removal_reason", "updated_at"])
        catalogue_changed()
        audit_record(
            actor=actor,
            organization=dataset.organization,
            action="dataset.remove",
            obj=dataset,
            data={"reason": reason},
        )
        dataset_removed.send(sender=Dataset, dataset=dataset, reason=reason, details=details)
    return dataset
