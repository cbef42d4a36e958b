"""An upload in progress: looking it up (404 for another organisation's), part URLs, the parts
storage holds, aborting it, and each file slot of a submission for the web page."""

from dataclasses import dataclass, field

from botocore.exceptions import ClientError
from django.db import transaction
from django.utils import timezone

from marketplace.actors import Actor
from marketplace.models import FileUpload, Submission
from marketplace.prepared import RowReader, read_row_prepared
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Gone, Invalid, NotFound
from marketplace.services.submissions import (
    upload_rights_require,
)
from marketplace.services.uploads.start import (
    MAX_PARTS,
    MIN_PART_BYTES,
    _abort_storage_uploads,
    max_parts_for,
)
from marketplace.storage import (
    bucket,
    multipart_upload_held_recently,
    multipart_upload_held_record,
    multipart_upload_require,
    presign_part_upload,
    s3_client,
)

_UPLOAD, _SUBMISSION = RowReader.of(FileUpload), RowReader.of(Submission)
# The lookup of every part URL (U2), listing, assembly, completion and abort, in one prepared
# statement: compiling the same queryset cost more CPU than the query (half of a U2 request).
_LOOKUP_SQL = (
    "SELECT "  # noqa: S608 - table and column names come from the models; values are parameters
    + ", ".join(_UPLOAD.columns("u") + _SUBMISSION.columns("s"))
    + f" FROM {FileUpload._meta.db_table} u JOIN {Submission._meta.db_table} s"
    " ON s.id = u.submission_id"
    " WHERE u.public_id = %(upload)s AND u.organization_id = %(org)s AND u.kind = %(kind)s"
    " AND (%(submission)s::text IS NULL OR s.public_id = %(submission)s::text)"
    " LIMIT 1"
)


def _upload_lookup(
    *, actor: Actor, upload_id: str, kind: str, submission_id: str | None
) -> FileUpload:
    """An upload of the actor's organisation, of this kind (and under this submission when the
    route names one), its submission cached on it. Anything else is 404: no existence leak."""
    upload_rights_require(actor=actor)
    row = read_row_prepared(
        _LOOKUP_SQL,
        {
            "upload": upload_id,
            "org": actor.organization.pk,
            "kind": kind,
            "submission": submission_id,
        },
    )
    if row is None:
        raise NotFound(f"Upload {upload_id} not found.")
    n = len(_UPLOAD.fields)
    upload, submission = _UPLOAD.instance(row[:n]), _SUBMISSION.instance(row[n:])
    FileUpload._meta.get_field("submission").set_cached_value(upload, submission)
    if submission.status == Submission.Status.DELETED:
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


# S3's largest part.
MAX_PART_BYTES = 5 * 1024**3


def expected_part_length(*, file_size: int, part_size: int, part_number: int) -> int:
    """Bytes of part `part_number` of a file cut in parts of `part_size` (the last one shorter)."""
    return min(part_size, file_size - (part_number - 1) * part_size)


def _part_size_declare(upload: FileUpload, part_size: int | None) -> int | None:
    """The upload's part size: the one stored, else the one declared now (stored once, by the
    first request that declares it). A different declaration later is a conflict."""
    if part_size is None:
        return upload.part_size
    if not MIN_PART_BYTES <= part_size <= MAX_PART_BYTES:
        raise Invalid(
            f"partSize: must be between {MIN_PART_BYTES} and {MAX_PART_BYTES} bytes, got "
            f"{part_size}.",
            code="invalid_part_size",
        )
    if -(-upload.declared_size // part_size) > MAX_PARTS:
        raise Invalid(
            f"partSize: {part_size} bytes would need more than {MAX_PARTS} parts for "
            f"{upload.declared_size} bytes.",
            code="invalid_part_size",
        )
    if upload.part_size is None:
        # Conditional: of two first requests racing, one declaration wins; the other compares.
        FileUpload.objects.filter(pk=upload.pk, part_size__isnull=True).update(part_size=part_size)
        upload.part_size = FileUpload.objects.values_list("part_size", flat=True).get(pk=upload.pk)
    if upload.part_size != part_size:
        raise Conflict(
            f"partSize: this upload's parts are {upload.part_size} bytes, not {part_size}.",
            code="part_size_mismatch",
            partSize=upload.part_size,
        )
    return part_size


def file_upload_part_url(
    *, upload: FileUpload, part_number: int, part_size: int | None = None
) -> str:
    """U2/S2: a short-lived URL for one part PUT. Works across client restarts until completion.

    The part number is capped by the file's size (every part but the last is at least 5 MiB).
    A client that declares its part size (`partSize`; the web uploader does, the SDK 0.7.0 never
    does) gets URLs that sign each part's exact length, so storage refuses an oversize part;
    without one, completion checks the sizes of the parts storage holds."""
    limit = max_parts_for(upload.declared_size)
    if not 1 <= part_number <= MAX_PARTS:
        raise Invalid(
            f"partNumber: must be between 1 and {MAX_PARTS}, got {part_number}.",
            code="invalid_part_number",
        )
    if part_number > limit:
        raise Invalid(
            f"partNumber: a file of {upload.declared_size} bytes has at most {limit} part"
            f"{'' if limit == 1 else 's'} of at least {MIN_PART_BYTES} bytes, got {part_number}.",
            code="invalid_part_number",
            maxPartNumber=limit,
        )
    if upload.state == FileUpload.State.COMPLETED:
        raise Conflict("This upload is already completed.", code="upload_completed")
    size = _part_size_declare(upload, part_size)
    length = None
    if size is not None:
        count = -(-upload.declared_size // size)
        if part_number > count:
            raise Invalid(
                f"partNumber: {upload.declared_size} bytes in parts of {size} bytes make "
                f"{count} part{'' if count == 1 else 's'}, got {part_number}.",
                code="invalid_part_number",
                maxPartNumber=count,
            )
        length = expected_part_length(
            file_size=upload.declared_size, part_size=size, part_number=part_number
        )
    _storage_holds_upload(upload, part_number)
    return presign_part_upload(
        key=upload.key,
        upload_id=upload.storage_upload_id,
        part_number=part_number,
        content_length=length,
        verify=False,  # asked above, at most once per window
    )


def _storage_holds_upload(upload: FileUpload, part_number: int) -> None:
    """The store still holds this multipart upload (410 `upload_lost` when it lost it, 503 when
    it cannot be reached), so a client learns at once that it must start over. Storage is asked
    when no process heard from it about this upload in the last STORAGE_PROBE_CACHE_SECONDS
    (its start counts: storage created it), and always when this part number was already
    signed since, by any process: a client asking again for a part is retrying it, possibly
    because storage refused its PUT. A ListParts per part URL cost more than the rest of U2
    together (a storage round trip while the store is busy receiving the other parts), and one
    per web process still put one on the path of an early part."""
    key, upload_id = upload.key, upload.storage_upload_id
    if multipart_upload_held_recently(key=key, upload_id=upload_id, part_number=part_number):
        return
    multipart_upload_require(key=key, upload_id=upload_id)
    multipart_upload_held_record(key=key, upload_id=upload_id, part_number=part_number)


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
    # Storage already assembled these parts (the upload waits for its completion).
    assembled: bool = False

    @property
    def stored_bytes(self) -> int:
        return sum(p.size for p in self.parts)


def _stored_parts(upload: FileUpload) -> list[StoredPart]:
    if upload.assembled_parts is not None:  # as storage held them when it assembled them
        return [
            StoredPart(number=n, etag=etag, size=size)
            for n, (etag, size) in enumerate(upload.assembled_parts, start=1)
        ]
    return [
        StoredPart(number=n, etag=etag, size=size)
        for n, (etag, size) in sorted(_list_stored_parts(upload).items())
    ]


def file_upload_parts_list(
    *, actor: Actor, upload_id: str, kind: str, submission_id: str | None = None
) -> UploadParts:
    """The parts storage holds for an unfinished upload, as storage says (a resuming client sends
    only the others, and completes with these ETags). A completed upload lists none: storage
    has assembled them. An upload assembled before its completion lists the parts it was
    assembled from (`assembled`: only the completion is left). Aborted and expired uploads are
    410, like their part URLs."""
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
        if upload.assembled_parts is None:
            raise Gone(
                "This upload no longer exists in storage; start a new one.",
                code="upload_expired",
            ) from exc
        parts = _stored_parts(upload)  # assembled meanwhile
    return UploadParts(upload=upload, parts=parts, assembled=upload.assembled_parts is not None)


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
        # The multipart upload is aborted and any object assembled under the upload's key (an
        # assembly, or a completion that reached storage just before the abort took the row
        # lock) deleted. Robust: the row is aborted whatever storage answers; the bucket's
        # lifecycle rule aborts an incomplete multipart upload that a storage outage left.
        transaction.on_commit(lambda: _abort_storage_uploads([pair]), robust=True)
    return locked


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
                stored = UploadParts(
                    upload=upload,
                    parts=_stored_parts(upload),
                    assembled=upload.assembled_parts is not None,
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "NoSuchUpload":
                    raise
                upload = None  # gone from storage: nothing left to resume
        slots[kind] = UploadSlot(
            kind=kind, completed=attached[kind], in_progress=upload, stored=stored
        )
    return slots
