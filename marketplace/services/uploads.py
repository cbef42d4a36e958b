"""Direct-to-storage uploads (MDC §6). Bytes never pass through our server: we start a storage
multipart upload, sign one short-lived URL per part, and on completion ask the store which parts
it holds, complete the upload and check the stored size. Completion reads no bytes, so it
answers in the same time whatever the file's size."""

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta

from botocore.exceptions import ClientError
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from marketplace.actors import Actor
from marketplace.models import DatasetVersion, FileUpload, Submission
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from marketplace.services.submissions import (
    UPLOADABLE,
    submission_get_for_org,
    submission_resubmit_for_new_version,
    upload_rights_require,
)
from marketplace.storage import bucket, presign_part_upload, s3_client

logger = logging.getLogger(__name__)

MAX_PARTS = 10_000
MIN_PART_BYTES = 5 * 1024 * 1024
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
LIVE_STATES = (FileUpload.State.UPLOADING, FileUpload.State.COMPLETED)


def _safe_filename(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return _SAFE_NAME.sub("_", base).lstrip(".")[:200] or "archive.tar.gz"


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
    used = (
        FileUpload.objects.filter(organization=organization, state__in=LIVE_STATES)
        .exclude(submission__status=Submission.Status.DELETED)
        # Unfinished uploads this one supersedes are aborted when it starts: not counted.
        .exclude(submission=submission, kind=kind, state=FileUpload.State.UPLOADING)
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
    if submission.status not in UPLOADABLE:
        raise Forbidden(
            f"This submission is {submission.status}; files can be uploaded to drafts, rejected "
            "and published submissions only.",
            code="submission_not_uploadable",
        )
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
        filename=_safe_filename(filename),
        declared_size=file_size,
        expires_at=timezone.now() + timedelta(seconds=settings.UPLOAD_SESSION_TTL_SECONDS),
    )
    upload.key = f"uploads/{actor.organization.pk}/{submission.public_id}/{upload.public_id}/{upload.filename}"
    client = s3_client()
    upload.storage_upload_id = client.create_multipart_upload(
        Bucket=bucket(), Key=upload.key, ContentType="application/gzip"
    )["UploadId"]
    try:
        with transaction.atomic():
            # Re-check under the row lock: the submission may have changed meanwhile.
            locked = Submission.objects.select_for_update().get(pk=submission.pk)
            if locked.status not in UPLOADABLE:
                raise Forbidden(
                    f"This submission is {locked.status}.", code="submission_not_uploadable"
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
    client = s3_client()
    for object_key, upload_id in pairs:
        try:
            client.abort_multipart_upload(Bucket=bucket(), Key=object_key, UploadId=upload_id)
        except ClientError as exc:
            logger.info("abort of %s skipped: %s", object_key, exc.response["Error"]["Code"])


def _upload_lookup(
    *, actor: Actor, upload_id: str, kind: str, submission_id: str | None
) -> FileUpload:
    """An upload of the actor's organisation, of this kind (and under this submission when the
    route names one). Anything else is 404: no existence leak."""
    upload_rights_require(actor=actor)
    qs = FileUpload.objects.select_related("submission").filter(
        organization=actor.organization, public_id=upload_id, kind=kind
    )
    if submission_id is not None:
        qs = qs.filter(submission__public_id=submission_id)
    upload = qs.first()
    if upload is None:
        raise NotFound(f"Upload {upload_id} not found.")
    if upload.submission.status == Submission.Status.DELETED:
        raise Gone("The submission of this upload was deleted.")
    return upload


def file_upload_get(
    *, actor: Actor, upload_id: str, kind: str, submission_id: str | None = None
) -> FileUpload:
    """An upload a client may still work on or complete; aborted and expired ones are 410 (the
    SDK then drops its state and restarts cleanly)."""
    upload = _upload_lookup(
        actor=actor, upload_id=upload_id, kind=kind, submission_id=submission_id
    )
    if upload.state == FileUpload.State.UPLOADING and upload.expires_at <= timezone.now():
        raise Gone("This upload expired; start a new one.", code="upload_expired")
    if upload.state in (FileUpload.State.ABORTED, FileUpload.State.EXPIRED):
        raise Gone(
            f"This upload was {upload.state}; start a new one.", code=f"upload_{upload.state}"
        )
    return upload


def file_upload_part_url(*, upload: FileUpload, part_number: int) -> str:
    """U2/S2: a short-lived URL for one part PUT. Works across client restarts until completion."""
    if not 1 <= part_number <= MAX_PARTS:
        raise Invalid(
            f"partNumber: must be between 1 and {MAX_PARTS}, got {part_number}.",
            code="invalid_part_number",
        )
    if upload.state == FileUpload.State.COMPLETED:
        raise Conflict("This upload is already completed.", code="upload_completed")
    return presign_part_upload(
        key=upload.key, upload_id=upload.storage_upload_id, part_number=part_number
    )


def _list_stored_parts(upload: FileUpload) -> dict[int, tuple[str, int]]:
    client = s3_client()
    parts: dict[int, tuple[str, int]] = {}
    marker = 0
    while True:
        page = client.list_parts(
            Bucket=bucket(),
            Key=upload.key,
            UploadId=upload.storage_upload_id,
            PartNumberMarker=marker,
            MaxParts=1000,
        )
        for p in page.get("Parts", []):
            parts[p["PartNumber"]] = (p["ETag"].strip('"'), p["Size"])
        if not page.get("IsTruncated"):
            return parts
        marker = page["NextPartNumberMarker"]


@dataclass(frozen=True, slots=True)
class StoredPart:
    number: int
    etag: str  # unquoted
    size: int


@dataclass(frozen=True, slots=True)
class UploadParts:
    upload: FileUpload
    parts: list[StoredPart] = field(default_factory=list)

    @property
    def stored_bytes(self) -> int:
        return sum(p.size for p in self.parts)


def _stored_parts(upload: FileUpload) -> list[StoredPart]:
    return [
        StoredPart(number=n, etag=etag, size=size)
        for n, (etag, size) in sorted(_list_stored_parts(upload).items())
    ]


def file_upload_parts_list(
    *, actor: Actor, upload_id: str, kind: str, submission_id: str | None = None
) -> UploadParts:
    """The parts storage holds for an unfinished upload, as storage says (a resuming client sends
    only the others, and completes with these ETags). A completed upload lists none: storage
    has assembled them. Aborted and expired uploads are 410, like their part URLs."""
    upload = file_upload_get(
        actor=actor, upload_id=upload_id, kind=kind, submission_id=submission_id
    )
    if upload.state == FileUpload.State.COMPLETED:
        return UploadParts(upload=upload)
    try:
        parts = _stored_parts(upload)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchUpload":
            raise
        # Completed or aborted between our read and storage's answer: the row says which.
        upload.refresh_from_db()
        if upload.state == FileUpload.State.COMPLETED:
            return UploadParts(upload=upload)
        raise Gone(
            "This upload no longer exists in storage; start a new one.", code="upload_expired"
        ) from exc
    return UploadParts(upload=upload, parts=parts)


def file_upload_abort(
    *, actor: Actor, upload_id: str, kind: str, submission_id: str | None = None
) -> FileUpload:
    """Abandon an unfinished upload: the row becomes `aborted` (audited) and, after commit, the
    storage multipart upload is aborted and any object a racing completion assembled is deleted.
    Idempotent: an upload already aborted or expired is returned as it is. A completed upload is
    a file of the submission and is not discarded this way (409)."""
    upload = _upload_lookup(
        actor=actor, upload_id=upload_id, kind=kind, submission_id=submission_id
    )
    completed = Conflict(
        "This upload is completed; its file belongs to the submission now.",
        code="upload_completed",
    )
    if upload.state == FileUpload.State.COMPLETED:
        raise completed
    if upload.state != FileUpload.State.UPLOADING:
        return upload
    with transaction.atomic():
        # Lock order, everywhere: the submission, then its uploads (as start and completion).
        Submission.objects.select_for_update().get(pk=upload.submission_id)
        locked = FileUpload.objects.select_for_update().get(pk=upload.pk)
        if locked.state == FileUpload.State.COMPLETED:
            raise completed
        if locked.state != FileUpload.State.UPLOADING:
            return locked
        locked.state = FileUpload.State.ABORTED
        locked.save(update_fields=["state"])
        audit_record(
            actor=actor,
            organization=actor.organization,
            action="upload.abort",
            obj=locked,
            data={"kind": locked.kind, "filename": locked.filename},
        )
        pair = (locked.key, locked.storage_upload_id)
        # Robust: the row is aborted whatever storage answers; the bucket's lifecycle rule
        # aborts an incomplete multipart upload that a storage outage left behind.
        transaction.on_commit(lambda: _discard_storage_upload(*pair), robust=True)
    return locked


def _discard_storage_upload(object_key: str, upload_id: str) -> None:
    _abort_storage_uploads([(object_key, upload_id)])
    # A completion that reached storage just before the abort took the row lock leaves an
    # assembled object under the upload's own key (unique per upload): remove it too.
    s3_client().delete_object(Bucket=bucket(), Key=object_key)


@dataclass(frozen=True, slots=True)
class UploadSlot:
    """One file of a submission (the dataset archive or the sample) as its page shows it."""

    kind: str
    completed: FileUpload | None  # the file attached to the submission
    in_progress: FileUpload | None  # an unfinished upload a client can resume
    stored: UploadParts | None  # its parts in storage (None when not asked or not known)


def submission_upload_slots(
    *, actor: Actor, submission: Submission, with_parts: bool = True
) -> dict[str, UploadSlot]:
    """The dataset and sample files of a submission of the actor's organisation: the attached
    file and the resumable upload of each kind (at most one: a new start supersedes the others),
    with the parts storage holds for it when `with_parts` (one ListParts per open upload)."""
    if submission.organization_id != actor.organization.pk:
        raise NotFound(f"Submission {submission.public_id} not found.")
    open_uploads = {
        u.kind: u
        for u in FileUpload.objects.select_related("submission")
        .filter(
            submission=submission,
            state=FileUpload.State.UPLOADING,
            expires_at__gt=timezone.now(),
        )
        .order_by("created_at", "pk")  # the latest of a kind wins
    }
    attached = {
        FileUpload.Kind.DATASET: submission.file_upload,
        FileUpload.Kind.SAMPLE: submission.sample_upload,
    }
    slots = {}
    for kind in (FileUpload.Kind.DATASET, FileUpload.Kind.SAMPLE):
        upload = open_uploads.get(kind)
        stored = None
        if upload is not None and with_parts:
            try:
                stored = UploadParts(upload=upload, parts=_stored_parts(upload))
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "NoSuchUpload":
                    raise
                upload = None  # gone from storage: nothing left to resume
        slots[kind] = UploadSlot(
            kind=kind, completed=attached[kind], in_progress=upload, stored=stored
        )
    return slots


def file_upload_complete(
    *, actor: Actor, upload: FileUpload, storage_upload_id: str, parts: list[dict], checksum: str
) -> FileUpload:
    """U4/S4. Idempotent: repeating a successful completion with the same checksum is a success.
    Validates the part list against what storage holds and the stored size against the declared
    size; attaches the file to its submission. The declared SHA-256 is recorded as declared."""
    checksum = (checksum or "").strip().lower()
    if not SHA256_RE.match(checksum):
        raise Invalid(
            "checksum: must be the SHA-256 of the whole file, 64 lowercase hex characters."
        )
    if storage_upload_id != upload.storage_upload_id:
        raise Conflict("uploadId does not match this upload.", code="upload_id_mismatch")
    if upload.state == FileUpload.State.COMPLETED:
        if upload.declared_sha256 == checksum:
            return upload
        raise Conflict(
            "This upload was already completed with a different checksum.", code="upload_completed"
        )
    numbers = [p.get("partNumber") for p in parts]
    if not numbers or numbers != list(range(1, len(numbers) + 1)):
        raise Invalid(
            "parts: must list part numbers 1..N in order, without gaps.", code="invalid_parts"
        )
    if len(numbers) > MAX_PARTS:
        raise Invalid(f"parts: at most {MAX_PARTS} parts.", code="invalid_parts")

    stored = _list_stored_parts(upload)
    missing = [n for n in numbers if n not in stored]
    if missing:
        raise Invalid(
            f"parts: part(s) {', '.join(map(str, missing[:20]))} were not uploaded.",
            code="missing_parts",
            missingParts=missing[:100],
        )
    mismatched = [
        p["partNumber"]
        for p in parts
        if str(p.get("etag", "")).strip().strip('"') != stored[p["partNumber"]][0]
    ]
    if mismatched:
        raise Invalid(
            f"parts: ETag of part(s) {', '.join(map(str, mismatched[:20]))} does not match storage.",
            code="etag_mismatch",
        )
    extra = sorted(set(stored) - set(numbers))
    if extra:
        raise Invalid(
            f"parts: storage holds part(s) {', '.join(map(str, extra[:20]))} not listed.",
            code="invalid_parts",
        )
    total = sum(stored[n][1] for n in numbers)
    if total != upload.declared_size:
        raise Invalid(
            f"The uploaded parts hold {total} bytes but fileSize was {upload.declared_size}.",
            code="size_mismatch",
            storedBytes=total,
            declaredBytes=upload.declared_size,
        )
    small = [n for n in numbers[:-1] if stored[n][1] < MIN_PART_BYTES]
    if small:
        raise Invalid(
            f"parts: every part but the last must be at least {MIN_PART_BYTES} bytes.",
            code="part_too_small",
        )

    client = s3_client()
    try:
        client.complete_multipart_upload(
            Bucket=bucket(),
            Key=upload.key,
            UploadId=upload.storage_upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": stored[n][0]} for n in numbers]},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchUpload":
            raise
        # A concurrent completion got there first; the object's size below decides.
    head = client.head_object(Bucket=bucket(), Key=upload.key)
    if head["ContentLength"] != upload.declared_size:
        raise Invalid("The stored object's size does not match fileSize.", code="size_mismatch")

    with transaction.atomic():
        # Lock order, everywhere: the submission, then its uploads (upload start does the same).
        submission = Submission.objects.select_for_update().get(pk=upload.submission_id)
        locked = FileUpload.objects.select_for_update().get(pk=upload.pk)
        if locked.state == FileUpload.State.COMPLETED:
            if locked.declared_sha256 != checksum:
                raise Conflict(
                    "This upload was already completed with a different checksum.",
                    code="upload_completed",
                )
            return locked
        if locked.state != FileUpload.State.UPLOADING:
            raise Gone(f"This upload was {locked.state}.", code=f"upload_{locked.state}")
        locked.state = FileUpload.State.COMPLETED
        locked.stored_size = head["ContentLength"]
        locked.parts_count = len(numbers)
        locked.declared_sha256 = checksum
        locked.completed_at = timezone.now()
        locked.save(
            update_fields=["state", "stored_size", "parts_count", "declared_sha256", "completed_at"]
        )
        if locked.kind == FileUpload.Kind.DATASET:
            submission.file_upload = locked
            submission.save(update_fields=["file_upload", "updated_at"])
        else:
            submission.sample_upload = locked
            submission.save(update_fields=["sample_upload", "updated_at"])
        audit_record(
            actor=actor,
            organization=actor.organization,
            action="upload.complete",
            obj=locked,
            data={"size": locked.stored_size, "sha256_declared": checksum},
        )
        if (
            submission.status == Submission.Status.APPROVED
            and locked.kind == FileUpload.Kind.DATASET
        ):
            submission_resubmit_for_new_version(submission=submission, actor=actor)
        return locked


def file_uploads_expire(*, now=None, limit: int = 500) -> int:
    """Abort upload sessions past their expiry (periodic)."""
    now = now or timezone.now()
    expired = []
    with transaction.atomic():
        rows = list(
            FileUpload.objects.select_for_update(skip_locked=True)
            .filter(state=FileUpload.State.UPLOADING, expires_at__lte=now)
            .order_by("pk")[:limit]
        )
        for row in rows:
            row.state = FileUpload.State.EXPIRED
            row.save(update_fields=["state"])
            expired.append((row.key, row.storage_upload_id))
        transaction.on_commit(lambda: _abort_storage_uploads(expired))
    return len(expired)


def submission_files_purge(*, submission_pk: int) -> int:
    """After a submission is deleted: abort its unfinished uploads and delete its stored
    objects. Objects referenced by a published version are never touched."""
    with transaction.atomic():
        uploads = list(
            FileUpload.objects.select_for_update()
            .filter(submission_id=submission_pk, submission__status=Submission.Status.DELETED)
            .order_by("pk")
        )
        pending = [
            (u.key, u.storage_upload_id) for u in uploads if u.state == FileUpload.State.UPLOADING
        ]
        for u in uploads:
            if u.state == FileUpload.State.UPLOADING:
                u.state = FileUpload.State.ABORTED
                u.save(update_fields=["state"])
    _abort_storage_uploads(pending)
    published = set(
        DatasetVersion.objects.values_list("archive_key", flat=True).filter(
            archive_key__in=[u.key for u in uploads]
        )
    )
    doomed = [
        u.key for u in uploads if u.state == FileUpload.State.COMPLETED and u.key not in published
    ]
    client = s3_client()
    for start in range(0, len(doomed), 1000):
        client.delete_objects(
            Bucket=bucket(),
            Delete={"Objects": [{"Key": k} for k in doomed[start : start + 1000]], "Quiet": True},
        )
    return len(doomed)
