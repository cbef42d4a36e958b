"""E-mails about access requests: the publishing organisation's owners hear of each new request,
the person who asked hears of each decision. Sent by tasks (licensing.tasks) that the access
request services enqueue after commit; each reads the request as it is when the task runs."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from licensing.models import AccessRequest
from marketplace.models import Membership, User

S = AccessRequest.Status
INBOX_PATH = "/organization/access-requests"


def _request(access_request_id: int) -> AccessRequest | None:
    return (
        AccessRequest.objects.select_related(
            "dataset", "dataset__organization", "organization", "requested_by"
        )
        .filter(pk=access_request_id)
        .first()
    )


def access_request_created_notify(*, access_request_id: int) -> int:
    """E-mail the owners of the dataset's organisation that a new request arrived (pending, or
    approved at once by the dataset's auto-approval); returns how many were written to."""
    request = _request(access_request_id)
    if request is None:
        return 0
    organization = request.dataset.organization
    owners = list(
        User.objects.filter(
            memberships__organization=organization,
            memberships__role=Membership.Role.OWNER,
            is_active=True,
        )
        .exclude(email="")
        .order_by("pk")
        .values_list("email", flat=True)
    )
    if not owners:
        return 0
    context = {
        "request": request,
        "dataset": request.dataset,
        "auto_approved": request.status == S.APPROVED and request.auto_approved,
        "inbox_url": f"{settings.PUBLIC_BASE_URL}{INBOX_PATH}?status={request.status}",
    }
    subject = f"New access request for {request.dataset.name} from {request.organization_name}"
    body = render_to_string("licensing/email/access_request_new.txt", context)
    send_mail(subject, body, None, owners)
    return len(owners)


def access_request_decision_notify(*, access_request_id: int, status: str) -> int:
    """E-mail the person who asked the decision `status` (with the reason). Nothing when the
    request has been decided otherwise since (that decision sends its own) or reopened, or the
    requester has no address; returns how many were written to."""
    request = _request(access_request_id)
    if request is None or request.status != status or status == S.PENDING:
        return 0
    email = request.requested_by.email
    if not email:
        return 0
    approved = status == S.APPROVED
    context = {
        "request": request,
        "dataset": request.dataset,
        "approved": approved,
        "sent_url": f"{settings.PUBLIC_BASE_URL}{INBOX_PATH}?direction=sent",
        "terms_url": f"{settings.PUBLIC_BASE_URL}/datasets/{request.dataset.public_id}/terms",
    }
    verdict = "approved" if approved else "not approved"
    subject = f"Your access request for {request.dataset.name} was {verdict}"
    body = render_to_string("licensing/email/access_request_decision.txt", context)
    send_mail(subject, body, None, [email])
    return 1
