"""Starting an upload: the name, size and quota rules, the storage multipart upload first (outside
any row lock), then its row; earlier unfinished uploads of the same kind are superseded."""

import logging
import re
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from marketplace.actors import Actor
from marketplace.models import FileUpload, Submission
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Invalid
from marketplace.services.submissions import (
    UPLOADABLE,
    submission_get_for_org,
    upload_rights_require,
)
from marketplace.storage import bucket, multipart_upload_held_record, s3_client

logger = logging.getLogger(__name__)

MAX_PARTS = 10_000
MIN_PART_BYTES = 5 * 1024 * 1024
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_STEM_MAX = 180
LIVE_STATES = (FileUpload.State.UPLOADING, FileUpload.State.COMPLETED)
# pg_advisory_xact_lock(class << 32 | organisation pk): one upload start per organisation at a
# time checks and takes quota and session slots. Taken first in its transaction, before any
# row lock (then the submission, then its uploads: the documented order).
_QUOTA_LOCK_CLASS = 0x55504C44  # "UPLD"


def safe_filename(filename: str) -> str:
    """The stored name of an uploaded archive: its base name, characters outside
    [A-Za-z0-9._-] replaced, no leading dots, at most ~190 characters, and always its archive
    suffix (`.tar.gz` / `.tgz`, lowercased): the suffix is split off before the stem is
    cleaned or shortened, so ".tar.gz" or "…(200 characters).tar.gz" keep it."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    lowered = base.lower()
    suffix = next((s for s in ARCHIVE_SUFFIXES if lowered.endswith(s)), ".tar.gz")
    stem = base[: len(base) - len(suffix)] if lowered.endswith(suffix) else base
    stem = _SAFE_NAME.sub("_", stem).lstrip("._-")[:_STEM_MAX].rstrip(".")
    return f"{stem or 'archive'}{suffix}"


def max_parts_for(file_size: int) -> int:
    """Parts a file of this size can have: every part but the last is at least MIN_PART_BYTES
    (the S3 rule the SDK follows), and never more than MAX_PARTS."""
    return max(1, min(MAX_PARTS, -(-file_size // MIN_PART_BYTES)))


def _validate_start(
    *, filename: str, file_size: int, mime_type: str, organization, submission, kind: str
) -> None:
    if not filename or not filename.lower().endswith(ARCHIVE_SUFFIXES):
        raise Invalid(
            f"filename: only gzip-compressed tar archives (.tar.gz, .tgz) are accepted, got {filename!r}.",
            code="unsupported_file_type",
        )
    if mime_type != "application/gzip":
        raise Invalid("mimeType: must be 'application/gzip'.", code="unsupported_file_type")
    if file_size <= 0:
        raise Invalid("fileSize: must be a positive number of bytes.")
    if file_size > settings.UPLOAD_MAX_BYTES:
        raise Invalid(
            f"fileSize: {file_size} bytes exceeds the per-upload limit of "
            f"{settings.UPLOAD_MAX_BYTES} bytes.",
            code="file_too_large",
            limitBytes=settings.UPLOAD_MAX_BYTES,
        )
    _check_organisation_limits(
        organization=organization, submission=submission, kind=kind, file_size=file_size
    )


def _submission_uploadable(submission: Submission) -> None:
    if submission.status not in UPLOADABLE:
        raise Conflict(
            f"This submission is {submission.status}: its files cannot change while it is "
            "submitted, checked or in review. Wait for the review decision, then upload again.",
            code="submission_under_review",
            submissionStatus=submission.status,
        )


def _check_organisation_limits(*, organization, submission, kind: str, file_size: int) -> None:
    """Quota and open sessions. Checked once before storage is asked (a cheap refusal) and again
    under the organisation's upload lock, where it is authoritative."""
    # Unfinished uploads this one supersedes are aborted when it starts: not counted.
    superseded = {"submission": submission, "kind": kind, "state": FileUpload.State.UPLOADING}
    open_sessions = (
        FileUpload.objects.filter(
            organization=organization,
            state=FileUpload.State.UPLOADING,
            expires_at__gt=timezone.now(),
        )
        .exclude(**superseded)
        .count()
    )
    if open_sessions >= settings.UPLOAD_OPEN_SESSIONS_MAX:
        raise Conflict(
            f"Your organisation has {open_sessions} unfinished uploads, the most it may hold at "
            "once; complete or abort one before starting another.",
            code="too_many_open_uploads",
            openUploads=open_sessions,
            limit=settings.UPLOAD_OPEN_SESSIONS_MAX,
        )
    used = (
        FileUpload.objects.filter(organization=organization, state__in=LIVE_STATES)
        .exclude(submission__status=Submission.Status.DELETED)
        .exclude(**superseded)
        .aggregate(total=Sum("declared_size"))["total"]
        or 0
    )
    if used + file_size > settings.ORG_STORAGE_QUOTA_BYTES:
        raise Invalid(
            f"Storage quota exceeded: your organisation uses {used} of "
            f"{settings.ORG_STORAGE_QUOTA_BYTES} bytes; this upload needs {file_size} more.",
            code="quota_exceeded",
            usedBytes=used,
            quotaBytes=settings.ORG_STORAGE_QUOTA_BYTES,
        )


def file_upload_start(
    *, actor: Actor, submission_id: str, kind: str, filename: str, file_size: int, mime_type: str
) -> FileUpload:
    """U1/S1. Starts the storage multipart upload first (a network call, outside any row lock),
    then records it; if recording fails the storage upload is aborted so nothing is orphaned."""
    upload_rights_require(actor=actor)
    submission = submission_get_for_org(
        organization=actor.organization, submission_id=submission_id
    )
    _submission_uploadable(submission)
    _validate_start(
        filename=filename,
        file_size=file_size,
        mime_type=mime_type,
        organization=actor.organization,
        submission=submission,
        kind=kind,
    )

    upload = FileUpload(
        submission=submission,
        organization=actor.organization,
        created_by=actor.user,
        kind=kind,
        filename=safe_filename(filename),
        declared_size=file_size,
        expires_at=timezone.now() + timedelta(seconds=settings.UPLOAD_SESSION_TTL_SECONDS),
    )
    upload.key = f"uploads/{actor.organization.pk}/{submission.public_id}/{upload.public_id}/{upload.filename}"
    client = s3_client()
    upload.storage_upload_id = client.create_multipart_upload(
        Bucket=bucket(), Key=upload.key, ContentType="application/gzip"
    )["UploadId"]
    # Storage holds it as of now: the first part URLs need not ask it again (if recording fails
    # below, the upload is aborted and has no row: no part URL is signed for it).
    multipart_upload_held_record(key=upload.key, upload_id=upload.storage_upload_id)
    try:
        with transaction.atomic():
            # Concurrent starts of one organisation queue here, so two of them cannot both fit
            # in the quota (or the session limit) that only one of them fits in.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s)",
                    [(_QUOTA_LOCK_CLASS << 32) | (actor.organization.pk & 0xFFFFFFFF)],
                )
            # Re-check under the row lock: the submission may have changed meanwhile.
            locked = Submission.objects.select_for_update().get(pk=submission.pk)
            _submission_uploadable(locked)
            _check_organisation_limits(
                organization=actor.organization, submission=locked, kind=kind, file_size=file_size
            )
            # A new upload of the same kind supersedes unfinished earlier ones (their quota is
            # released; a client still holding one gets 410 and restarts cleanly).
            superseded = list(
                FileUpload.objects.select_for_update()
                .filter(submission=locked, kind=kind, state=FileUpload.State.UPLOADING)
                .order_by("pk")
            )
            for old in superseded:
                old.state = FileUpload.State.ABORTED
                old.save(update_fields=["state"])
            upload.save()
            audit_record(
                actor=actor,
                organization=actor.organization,
                action="upload.start",
                obj=upload,
                data={"kind": kind, "size": file_size, "filename": upload.filename},
            )
            stale = [(o.key, o.storage_upload_id) for o in superseded]
            transaction.on_commit(lambda: _abort_storage_uploads(stale))
    except BaseException:
        _abort_storage_uploads([(upload.key, upload.storage_upload_id)])
        raise
    return upload


def _abort_storage_uploads(pairs) -> None:
    """Abort these unfinished uploads' multipart uploads in storage and delete any object under
    their keys: a key is one upload's alone, so an object there was assembled for an upload that
    will never complete (an assembly before the checksum, or a completion the abort overtook)."""
    client = s3_client()
    for object_key, upload_id in pairs:
        try:
            client.abort_multipart_upload(Bucket=bucket(), Key=object_key, UploadId=upload_id)
        except ClientError as exc:
            logger.info("abort of %s skipped: %s", object_key, exc.response["Error"]["Code"])
    keys = [object_key for object_key, _ in pairs]
    for start in range(0, len(keys), 1000):
        try:
            client.delete_objects(
                Bucket=bucket(),
                Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True},
            )
        except (BotoCoreError, ClientError) as exc:
            # The bucket's lifecycle rule does not reach these: say so loudly.
            logger.error("objects of aborted uploads not deleted: %s", exc)
