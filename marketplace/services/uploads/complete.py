"""Completing an upload: the part list checked against what storage holds, the object's size,
then the file attached to its submission (a published one goes back to review as a new version)."""

from botocore.exceptions import ClientError
from django.db import transaction
from django.utils import timezone

from marketplace.actors import Actor
from marketplace.models import FileUpload, Submission
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Gone, Invalid
from marketplace.services.submissions import (
    submission_resubmit_for_new_version,
)
from marketplace.services.uploads.parts import _list_stored_parts, expected_part_length
from marketplace.services.uploads.start import (
    MIN_PART_BYTES,
    SHA256_RE,
    _submission_uploadable,
    max_parts_for,
)
from marketplace.storage import bucket, s3_client


def file_upload_complete(
    *, actor: Actor, upload: FileUpload, storage_upload_id: str, parts: list[dict], checksum: str
) -> FileUpload:
    """U4/S4. Idempotent: repeating a successful completion with the same checksum is a success.
    Validates the part list against what storage holds and the stored size against the declared
    size; attaches the file to its submission. The declared SHA-256 is recorded as declared.
    A submission that is submitted, being checked or in review keeps its files: 409 (its
    checks and the reviewer's decision are about the files it had when it was submitted)."""
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
    _submission_uploadable(upload.submission)
    numbers = [p.get("partNumber") for p in parts]
    if not numbers or numbers != list(range(1, len(numbers) + 1)):
        raise Invalid(
            "parts: must list part numbers 1..N in order, without gaps.", code="invalid_parts"
        )
    limit = max_parts_for(upload.declared_size)
    if len(numbers) > limit:
        raise Invalid(
            f"parts: a file of {upload.declared_size} bytes has at most {limit} parts.",
            code="invalid_parts",
        )

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
    _part_sizes_check(upload, [stored[n][1] for n in numbers])

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
        # Submitted while storage assembled the parts: the file stays out of the submission.
        _submission_uploadable(submission)
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


def _part_sizes_check(upload: FileUpload, sizes: list[int]) -> None:
    """Parts of one size (the declared one, when the client declared it), the last no larger:
    how the SDK and the web uploader cut a file. Anything else was not sent by them."""
    size = upload.part_size or sizes[0]
    wrong = [
        n
        for n, got in enumerate(sizes, start=1)
        if got
        != expected_part_length(file_size=upload.declared_size, part_size=size, part_number=n)
    ]
    if wrong:
        raise Invalid(
            f"parts: every part but the last must hold {size} bytes and the last the rest; "
            f"part(s) {', '.join(map(str, wrong[:20]))} do not.",
            code="part_size_mismatch",
            partSize=size,
        )
