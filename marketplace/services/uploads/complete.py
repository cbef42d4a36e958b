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
    checks and the reviewer's decision are about the files it had when it was submitted).
    An upload storage already assembled (`file_upload_assemble`) is checked against the parts
    it was assembled from and the object's ETag, and is not assembled again."""
    checksum = (checksum or "").strip().lower()
    if not SHA256_RE.match(checksum):
        raise Invalid(
            "checksum: must be the SHA-256 of the whole file, 64 lowercase hex characters."
        )
    if storage_upload_id != upload.storage_upload_id:
        raise Conflict("uploadId does not match this upload.", code="upload_id_mismatch")
    if upload.state == FileUpload.State.COMPLETED:
        return _completed_again(upload, checksum)
    _submission_uploadable(upload.submission)
    numbers = _part_numbers(upload, parts)
    try:
        stored, assembled = _parts_in_storage(upload)
    except Gone:
        if upload.state == FileUpload.State.COMPLETED:  # by a concurrent completion
            return _completed_again(upload, checksum)
        raise
    _parts_check(upload, parts, numbers, stored)

    client = s3_client()
    if not assembled:
        try:
            client.complete_multipart_upload(
                Bucket=bucket(),
                Key=upload.key,
                UploadId=upload.storage_upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": n, "ETag": stored[n][0]} for n in numbers]
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchUpload":
                raise
            # A concurrent completion got there first; the object's size below decides.
    head = client.head_object(Bucket=bucket(), Key=upload.key)
    if head["ContentLength"] != upload.declared_size:
        raise Invalid("The stored object's size does not match fileSize.", code="size_mismatch")
    if assembled and head["ETag"].strip('"') != upload.assembled_etag:
        raise Conflict(
            "The stored object is not the one assembled from this upload's parts; "
            "start a new upload.",
            code="object_changed",
        )

    with transaction.atomic():
        # Lock order, everywhere: the submission, then its uploads (upload start does the same).
        submission = Submission.objects.select_for_update().get(pk=upload.submission_id)
        locked = FileUpload.objects.select_for_update().get(pk=upload.pk)
        if locked.state == FileUpload.State.COMPLETED:
            return _completed_again(locked, checksum)
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


def file_upload_assemble(
    *, actor: Actor, upload: FileUpload, storage_upload_id: str, parts: list[dict]
) -> FileUpload:
    """The first half of a completion, for a client that has sent every part but is still
    computing the file's checksum (the browser): the part list is checked exactly as completion
    checks it and storage assembles the object now, while the client hashes. Records the parts
    storage held and the object's ETag; the upload stays `uploading` until the completion with
    the checksum, which then only checks and records. Idempotent: an upload already assembled
    from these parts answers at once. Nothing else changes (the submission is untouched), so a
    page closed after this loses nothing: the parts listing answers the recorded parts and the
    completion finishes it."""
    if storage_upload_id != upload.storage_upload_id:
        raise Conflict("uploadId does not match this upload.", code="upload_id_mismatch")
    if upload.state == FileUpload.State.COMPLETED:
        return upload
    if upload.state != FileUpload.State.UPLOADING:
        raise Gone(f"This upload was {upload.state}.", code=f"upload_{upload.state}")
    _submission_uploadable(upload.submission)
    numbers = _part_numbers(upload, parts)
    stored, assembled = _parts_in_storage(upload)
    _parts_check(upload, parts, numbers, stored)
    if assembled:
        return upload

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
        # Assembled by a concurrent call (recorded by it below), completed, or aborted.
        upload.refresh_from_db()
        if upload.state == FileUpload.State.COMPLETED or upload.assembled_parts is not None:
            return upload
        raise Gone(
            "This upload no longer exists in storage; start a new one.", code="upload_lost"
        ) from exc
    head = client.head_object(Bucket=bucket(), Key=upload.key)
    if head["ContentLength"] != upload.declared_size:
        raise Invalid("The stored object's size does not match fileSize.", code="size_mismatch")
    with transaction.atomic():
        locked = FileUpload.objects.select_for_update().get(pk=upload.pk)
        if locked.state == FileUpload.State.UPLOADING and locked.assembled_parts is None:
            locked.assembled_parts = [list(stored[n]) for n in numbers]
            locked.assembled_etag = head["ETag"].strip('"')
            locked.stored_size = head["ContentLength"]
            locked.save(update_fields=["assembled_parts", "assembled_etag", "stored_size"])
    if locked.state in (FileUpload.State.ABORTED, FileUpload.State.EXPIRED):
        # Aborted or expired while storage assembled: that clean-up may have run before the
        # object existed (the key is this upload's alone), so remove it here.
        client.delete_object(Bucket=bucket(), Key=upload.key)
        raise Gone(f"This upload was {locked.state}.", code=f"upload_{locked.state}")
    return locked


def _completed_again(upload: FileUpload, checksum: str) -> FileUpload:
    """A completion repeated: the same checksum is a success, another one a conflict."""
    if upload.declared_sha256 != checksum:
        raise Conflict(
            "This upload was already completed with a different checksum.",
            code="upload_completed",
        )
    return upload


def _part_numbers(upload: FileUpload, parts: list[dict]) -> list[int]:
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
    return numbers


def _parts_in_storage(upload: FileUpload) -> tuple[dict[int, tuple[str, int]], bool]:
    """The parts storage holds (number -> (ETag, size)), and whether they are already assembled
    (then the parts recorded at assembly, as storage no longer lists them)."""
    if upload.assembled_parts is not None:
        return _recorded_parts(upload), True
    try:
        return _list_stored_parts(upload), False
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchUpload":
            raise
        upload.refresh_from_db()
        if upload.assembled_parts is not None:  # assembled meanwhile
            return _recorded_parts(upload), True
        raise Gone(
            "This upload no longer exists in storage; start a new one.", code="upload_lost"
        ) from exc


def _recorded_parts(upload: FileUpload) -> dict[int, tuple[str, int]]:
    return {n: (etag, size) for n, (etag, size) in enumerate(upload.assembled_parts, start=1)}


def _parts_check(
    upload: FileUpload, parts: list[dict], numbers: list[int], stored: dict[int, tuple[str, int]]
) -> None:
    """The client's part list is what storage holds, and holds the declared file's bytes as the
    SDK and the web uploader cut them."""
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
