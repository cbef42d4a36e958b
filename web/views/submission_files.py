"""The "Files" step of a submission: the dataset archive and the optional sample, each with its
state, and the browser uploader (web/static/web/uploader.js), which sends the bytes straight to
object storage through the upload API with this session. No byte passes through this view."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from marketplace.models import FileUpload
from marketplace.services.errors import ServiceError
from marketplace.services.submissions import UPLOADABLE, submission_get_for_org
from marketplace.services.uploads import MAX_PARTS, MIN_PART_BYTES, submission_upload_slots
from web.decorators import actor_required
from web.views.submissions import stepper_context

KINDS = (
    (FileUpload.Kind.DATASET, "Dataset archive", False),
    (FileUpload.Kind.SAMPLE, "Sample archive", True),  # optional
)


@actor_required
@require_GET
def submission_files(request, submission_id: str):
    actor = request.actor
    try:
        submission = submission_get_for_org(
            organization=actor.organization, submission_id=submission_id
        )
    except ServiceError as exc:  # another organisation's, unknown or deleted: not found
        raise Http404(exc.message) from exc
    uploadable = submission.status in UPLOADABLE
    slots = submission_upload_slots(
        actor=actor, submission=submission, with_parts=actor.can_upload and uploadable
    )
    # The uploader appends /{fileUploadId}, /{fileUploadId}/parts[/{n}] to these (MDC §6).
    api_bases = {
        FileUpload.Kind.DATASET: reverse("marketplace:uploads"),
        FileUpload.Kind.SAMPLE: reverse("marketplace:sample-uploads", args=[submission.public_id]),
    }
    files = [
        {
            "kind": kind,
            "label": label,
            "optional": optional,
            "slot": slots[kind],
            "api_base": api_bases[kind],
        }
        for kind, label, optional in KINDS
    ]
    return render(
        request,
        "web/submissions/files.html",
        stepper_context(
            submission,
            "files",
            files=files,
            can_upload=actor.can_upload,
            uploadable=uploadable,
            max_bytes=settings.UPLOAD_MAX_BYTES,
            min_part_bytes=MIN_PART_BYTES,
            max_parts=MAX_PARTS,
        ),
    )
