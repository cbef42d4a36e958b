"""Settings of a published dataset that its organisation may change without a new version."""

from django.db import transaction

from marketplace.actors import Actor
from marketplace.models import Dataset, Submission, Visibility
from marketplace.services.audit import audit_record
from marketplace.services.errors import Invalid, NotFound


@transaction.atomic
def dataset_access_settings_update(
    *, actor: Actor, dataset: Dataset, auto_approve: bool
) -> Dataset:
    """Turn automatic approval of access requests on or off for a published dataset.

    The setting is the datasheet's `autoApproveAccessRequests` on the latest version's
    submission, where `access_request_create` reads it. It is not part of the terms or of the
    dataset card, so it changes without a new version or review, unlike the rest of a published
    datasheet. Any member of the publishing organisation may change it, as any member may decide
    on a request. Only restricted datasets take requests, so only they can turn it on (turning
    it off is always allowed). Requests already pending stay pending; it applies to the next.
    Another organisation's dataset is 404."""
    if dataset.organization_id != actor.organization.pk:
        raise NotFound(f"Dataset {dataset.public_id} not found.")
    current = (
        Dataset.objects.select_related("latest_version").defer("search_vector").get(pk=dataset.pk)
    )
    if current.latest_version_id is None:
        raise NotFound(f"Dataset {dataset.public_id} not found.")
    if auto_approve and current.removed_at is not None:
        raise Invalid("autoApproveAccessRequests: this dataset was removed from the platform.")
    if auto_approve and current.visibility != Visibility.RESTRICTED:
        raise Invalid("autoApproveAccessRequests: only applies to restricted datasets.")
    # Only the submission row is locked (the review locks the submission before the dataset).
    submission = Submission.objects.select_for_update().get(pk=current.latest_version.submission_id)
    if submission.auto_approve_access_requests != auto_approve:
        submission.auto_approve_access_requests = auto_approve
        submission.save(update_fields=["auto_approve_access_requests", "updated_at"])
        audit_record(
            actor=actor,
            organization=actor.organization,
            action="dataset.access_settings_update",
            obj=current,
            data={
                "autoApproveAccessRequests": auto_approve,
                "submission": submission.public_id,
            },
        )
    return current
