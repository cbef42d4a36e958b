"""Access requests for restricted datasets: the requester asks, the owning organisation
decides (and may change its mind), staff are flagged about requests left pending."""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensing.models import AccessRequest
from licensing.selectors import private_check
from licensing.services.events import access_request_decided_emit
from marketplace.actors import Actor
from marketplace.models import Dataset, Visibility
from marketplace.services.audit import audit_record
from marketplace.services.errors import Forbidden, Invalid
from marketplace.tasking import task_enqueue_on_commit

S = AccessRequest.Status


def stale_after() -> timedelta:
    return timedelta(days=settings.ACCESS_REQUEST_STALE_DAYS)


def _clean(value: str, field: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid(f"{field}: required.")
    if len(value) > limit:
        raise Invalid(f"{field}: at most {limit} characters.")
    return value


@transaction.atomic
def access_request_create(
    *,
    actor: Actor,
    dataset: Dataset,
    name: str,
    organization_name: str,
    intended_use: str,
) -> tuple[AccessRequest, bool]:
    """Ask for access to a restricted dataset. Returns (request, created). One request per
    organisation and dataset: asking again while pending updates the details, after a rejection
    reopens it as pending, after an approval changes nothing. Approved at once when the
    dataset's datasheet says `autoApproveAccessRequests`. The dataset organisation's owners are
    e-mailed about each new request (not about one asked again)."""
    organization, user = actor.organization, actor.user
    private_check(dataset=dataset, organization=organization)
    if dataset.organization_id == organization.pk:
        raise Invalid("Your organisation owns this dataset; it needs no access request.")
    if dataset.visibility != Visibility.RESTRICTED:
        raise Invalid(
            f"Dataset {dataset.public_id} is {dataset.visibility}; only restricted datasets "
            "take access requests.",
            code="not_restricted",
        )
    details = {
        "name": _clean(name, "name", 200),
        "organization_name": _clean(organization_name, "organizationName", 200),
        "intended_use": _clean(intended_use, "intendedUse", 20_000),
    }
    auto = bool(dataset.latest_version.submission.auto_approve_access_requests)
    now = timezone.now()
    existing = (
        AccessRequest.objects.select_for_update()
        .filter(dataset=dataset, organization=organization)
        .first()
    )
    created = existing is None
    if existing is None:
        try:
            with transaction.atomic():
                request = AccessRequest.objects.create(
                    dataset=dataset, organization=organization, requested_by=user, **details
                )
        except IntegrityError:  # a concurrent twin: treat as asking again
            created = False
            request = AccessRequest.objects.select_for_update().get(
                dataset=dataset, organization=organization
            )
    else:
        request = existing
    if not created:
        if request.status == S.APPROVED:
            return request, False
        for field, value in details.items():
            setattr(request, field, value)
        request.requested_by = user
        if request.status == S.REJECTED:
            request.status = S.PENDING
            request.decided_by = None
            request.decided_at = None
            request.reason = ""
            request.stale_since = None
            request.requested_at = now  # the pending clock restarts
    if request.status == S.PENDING and auto:
        request.status = S.APPROVED
        request.auto_approved = True
        request.decided_at = now
    request.save()
    audit_record(
        actor=actor,
        organization=organization,
        action="access_request.create" if created else "access_request.renew",
        obj=request,
        data={
            "dataset": dataset.public_id,
            "status": request.status,
            "auto": request.auto_approved,
        },
    )
    if created:
        task_enqueue_on_commit("licensing.tasks.access_request_created_notify", request.pk)
    return request, created


@transaction.atomic
def access_request_decide(
    *,
    actor: Actor,
    access_request: AccessRequest,
    approve: bool,
    reason: str = "",
) -> AccessRequest:
    """The dataset's organisation approves or rejects (a rejection needs a reason the
    requester can read). Either decision can be changed later. The requester is e-mailed each
    decision that changes something."""
    request = (
        AccessRequest.objects.select_for_update()
        .select_related("dataset")
        .get(pk=access_request.pk)
    )
    if request.dataset.organization_id != actor.organization.pk:
        raise Forbidden(
            "Only the organisation that publishes the dataset can decide on its access "
            "requests.",
            code="not_dataset_owner",
        )
    reason = (reason or "").strip()
    if not approve and not reason:
        raise Invalid("reason: a rejection needs a reason the requester can read.")
    if len(reason) > 5_000:
        raise Invalid("reason: at most 5000 characters.")
    new_status = S.APPROVED if approve else S.REJECTED
    if request.status == new_status and request.reason == reason:
        return request
    previous = request.status
    request.status = new_status
    request.reason = reason
    request.auto_approved = False
    request.decided_by = actor.user
    request.decided_at = timezone.now()
    request.stale_since = None
    request.save(
        update_fields=[
            "status",
            "reason",
            "auto_approved",
            "decided_by",
            "decided_at",
            "stale_since",
            "updated_at",
        ]
    )
    audit_record(
        actor=actor,
        organization=actor.organization,
        action="access_request.approve" if approve else "access_request.reject",
        obj=request,
        data={"from": previous, "reason": reason},
    )
    task_enqueue_on_commit("licensing.tasks.access_request_decision_notify", request.pk, new_status)
    access_request_decided_emit(request)
    return request


def access_requests_flag_stale(*, now=None) -> int:
    """Mark requests pending for longer than ACCESS_REQUEST_STALE_DAYS (the admin lists them
    under "stale"); returns how many were newly marked. Idempotent."""
    now = now or timezone.now()
    return AccessRequest.objects.filter(
        status=S.PENDING, stale_since__isnull=True, requested_at__lt=now - stale_after()
    ).update(stale_since=now)
