"""Periodic and after-deletion clean-up: expiring stale upload sessions and purging the stored
files of deleted submissions (never a published version's)."""

from django.db import transaction
from django.utils import timezone

from marketplace.models import DatasetVersion, FileUpload, Submission
from marketplace.services.uploads.start import _abort_storage_uploads
from marketplace.storage import bucket, s3_client


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
