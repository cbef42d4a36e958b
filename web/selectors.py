"""Reads that compose several apps for the site's pages (the web app sits above all four)."""

from dataclasses import dataclass, field

from django.db.models import Count, Q, Sum
from django.template.defaultfilters import pluralize
from django.utils import timezone

from contributors.selectors import payout_account_of_organization
from licensing.models import AccessRequest, Order
from marketplace.actors import Actor
from marketplace.models import ApiKey, Dataset, Organization, Submission

S = Submission.Status
SOLD = (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED, Order.Status.REFUNDED)


@dataclass
class Dashboard:
    submissions_by_state: dict[str, int]
    recent_submissions: list[Submission]
    datasets: list[Dataset]
    pending_access_requests: int
    sales_this_month: list[dict]  # per currency: orders, base_cents
    payout_account: object | None
    key_count: int
    next_steps: list[tuple[str, str]] = field(default_factory=list)  # (text, url)


def dashboard_for(actor: Actor) -> Dashboard:
    """What an organisation's dashboard shows, in a constant number of queries whatever the
    number of submissions, datasets and sales."""
    org = actor.organization
    counts = dict(
        Submission.objects.filter(organization=org)
        .exclude(status=S.DELETED)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    recent = list(
        Submission.objects.filter(organization=org)
        .exclude(status=S.DELETED)
        .order_by("-updated_at", "-pk")[:8]
    )
    datasets = list(
        Dataset.objects.filter(organization=org, latest_version__isnull=False)
        .select_related("latest_version")
        .order_by("-published_at", "-pk")[:12]
    )
    pending = AccessRequest.objects.filter(
        dataset__organization=org, status=AccessRequest.Status.PENDING
    ).count()
    month_start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    sales = list(
        Order.objects.filter(dataset__organization=org, status__in=SOLD, paid_at__gte=month_start)
        .values("currency")
        .annotate(orders=Count("pk"), base_cents=Sum("base_price_cents"))
        .order_by("currency")
    )
    account = payout_account_of_organization(org)
    keys = ApiKey.objects.filter(organization=org, user=actor.user, revoked_at__isnull=True)
    board = Dashboard(
        submissions_by_state={
            state: counts.get(state, 0) for state in S.values if state != S.DELETED
        },
        recent_submissions=recent,
        datasets=datasets,
        pending_access_requests=pending,
        sales_this_month=sales,
        payout_account=account,
        key_count=keys.count(),
    )
    board.next_steps = _next_steps(actor, board)
    return board


def _next_steps(actor: Actor, board: Dashboard) -> list[tuple[str, str]]:
    org, steps = actor.organization, []
    access = org.upload_access
    if access == Organization.UploadAccess.NONE:
        steps.append(("Ask staff for upload access, so you can publish datasets.", "/organization"))
    elif access == Organization.UploadAccess.REQUESTED:
        steps.append(("Upload access is requested; staff will e-mail the owners.", "/organization"))
    elif access == Organization.UploadAccess.REJECTED:
        steps.append(("Upload access was not approved; you can ask again.", "/organization"))
    if access == Organization.UploadAccess.APPROVED and not any(
        board.submissions_by_state.values()
    ):
        steps.append(("Publish your first dataset: start a new submission.", "/submissions/new"))
    if board.submissions_by_state.get(S.REJECTED):
        steps.append(
            ("A submission was rejected: read the reviewer's note and resubmit.", "/submissions")
        )
    if board.submissions_by_state.get(S.DRAFT):
        drafts = board.submissions_by_state[S.DRAFT]
        steps.append(
            (
                f"Finish and submit your draft submission{pluralize(drafts)}.",
                "/submissions",
            )
        )
    if board.pending_access_requests:
        steps.append(
            (
                f"{board.pending_access_requests} access request"
                f"{pluralize(board.pending_access_requests)} "
                f"wait{pluralize(board.pending_access_requests, 's,')} for your decision.",
                "/organization/access-requests",
            )
        )
    # Revenue comes from publishing: an organisation that may not publish has none to receive.
    if (
        actor.is_owner
        and access == Organization.UploadAccess.APPROVED
        and (board.payout_account is None or not board.payout_account.payouts_enabled)
    ):
        steps.append(("Connect a payout account to receive your revenue.", "/organization/money"))
    if not board.key_count:
        steps.append(("Create an API key to use the Python SDK.", "/organization/keys"))
    return steps


def members_of(organization: Organization):
    return (
        organization.memberships.select_related("user")
        .annotate(
            live_keys=Count(
                "user__api_keys",
                filter=Q(user__api_keys__organization=organization)
                & Q(user__api_keys__revoked_at__isnull=True),
            )
        )
        .order_by("role", "user__email", "pk")
    )
