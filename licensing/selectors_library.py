"""Reads of the licensee's library (/library): the organisation's grants with their orders and
the dataset versions they cover, its receipts and the access requests it sent. A fixed number
of queries whatever the number of grants (the page's query-count test holds it to that)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from licensing.models import AccessRequest, Grant, Order
from licensing.selectors import access_requests_visible, grants_of_organization
from marketplace.models import DatasetVersion, Organization
from marketplace.services.errors import NotFound

# What a receipt is: an order whose payment went through (refunded or not).
RECEIPT_STATUSES = (
    Order.Status.PAID,
    Order.Status.PARTIALLY_REFUNDED,
    Order.Status.REFUNDED,
)


@dataclass
class LibraryEntry:
    """One grant as the library shows it."""

    grant: Grant
    status: str  # active, suspended (payment disputed), revoked, expired
    order: Order | None
    versions: list[DatasetVersion] = field(default_factory=list)

    @property
    def refusal(self) -> str:
        return grant_refusal(self.grant, self.order)


def grant_refusal(grant: Grant, order: Order | None) -> str:
    """Why this grant cannot download now (empty when it can): revoked (with the reason, a
    full refund's included), expired, or suspended while its payment is disputed."""
    status = grant.effective_status()
    if status == Grant.Status.REVOKED:
        when = grant.revoked_at.date().isoformat() if grant.revoked_at else ""
        reason = grant.revoke_reason or "no reason given"
        return f"This grant was revoked on {when} ({reason}): downloads are refused."
    if status == Grant.Status.EXPIRED:
        return "This grant has expired: downloads are refused."
    if order is not None and order.dispute_status == Order.DisputeStatus.OPEN:
        return (
            f"This grant is suspended: the payment of order {order.public_id} is disputed "
            f"(reason: {order.dispute_reason or 'none'}). Downloads resume if the dispute is "
            "decided in the seller's favour."
        )
    return ""


def _status(grant: Grant, order: Order | None) -> str:
    status = grant.effective_status()
    if (
        status == Grant.Status.ACTIVE
        and order is not None
        and order.dispute_status == Order.DisputeStatus.OPEN
    ):
        return "suspended"
    return status


def library_grants(*, organization: Organization) -> list[LibraryEntry]:
    """The organisation's grants, newest first, each with its order (if bought) and every
    published version of its dataset. Three queries."""
    grants = list(
        grants_of_organization(organization=organization).select_related(
            "dataset__organization", "dataset__latest_version"
        )
    )
    refs = [g.order_ref for g in grants if g.order_ref]
    orders = (
        {
            o.public_id: o
            for o in Order.objects.filter(organization=organization, public_id__in=refs)
        }
        if refs
        else {}
    )
    versions: dict[int, list[DatasetVersion]] = {}
    if grants:
        rows = DatasetVersion.objects.filter(
            dataset_id__in={g.dataset_id for g in grants}
        ).order_by("dataset_id", "-number")
        for version in rows.only("id", "dataset_id", "number", "filename", "size_bytes", "sha256"):
            versions.setdefault(version.dataset_id, []).append(version)
    entries = []
    for grant in grants:
        order = orders.get(grant.order_ref)
        entries.append(
            LibraryEntry(
                grant=grant,
                status=_status(grant, order),
                order=order,
                versions=versions.get(grant.dataset_id, []),
            )
        )
    return entries


def library_entry(*, organization: Organization, grant_id: str) -> LibraryEntry:
    """One of the organisation's grants as the library shows it; another organisation's is
    404 (no existence leak)."""
    grant = (
        grants_of_organization(organization=organization)
        .select_related("dataset__organization", "dataset__latest_version")
        .filter(public_id=grant_id)
        .first()
    )
    if grant is None:
        raise NotFound(f"Grant {grant_id} not found.")
    order = (
        Order.objects.filter(organization=organization, public_id=grant.order_ref).first()
        if grant.order_ref
        else None
    )
    return LibraryEntry(grant=grant, status=_status(grant, order), order=order)


def receipts_of_organization(*, organization: Organization) -> QuerySet[Order]:
    """The organisation's paid orders (refunded ones included), newest first."""
    return (
        Order.objects.filter(organization=organization, status__in=RECEIPT_STATUSES)
        .select_related("dataset", "dataset_version", "user")
        .prefetch_related("refund_requests")
        .order_by("-paid_at", "-pk")
    )


def receipt_of_organization(*, organization: Organization, order_id: str) -> Order:
    """Another organisation's receipt is 404."""
    order = receipts_of_organization(organization=organization).filter(public_id=order_id).first()
    if order is None:
        raise NotFound(f"Receipt {order_id} not found.")
    return order


def access_requests_sent(*, organization: Organization) -> QuerySet[AccessRequest]:
    return access_requests_visible(organization=organization, direction="sent")
