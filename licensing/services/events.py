"""The licensing events told to licensees (issue 13 §1): each is emitted by the service that
makes the change, inside its transaction (marketplace.events.services.event_emit is the
outbox write; deliveries go out after commit)."""

from licensing.models import AccessRequest, Grant, Order
from marketplace.events.services import event_emit
from marketplace.models import Dataset, DatasetVersion, Organization


def order_paid_emit(order: Order) -> None:
    event_emit(
        organization=order.organization,
        type="order.paid",
        key=order.public_id,
        data={
            "order": order.public_id,
            "dataset": order.dataset.public_id,
            "totalPriceCents": order.total_price_cents,
            "currency": order.currency,
            "paidAt": order.paid_at.isoformat() if order.paid_at else None,
        },
    )


def grant_revoked_emit(grant: Grant) -> None:
    event_emit(
        organization=grant.organization,
        type="grant.revoked",
        key=grant.public_id,
        data={
            "grant": grant.public_id,
            "dataset": grant.dataset.public_id,
            "reason": grant.revoke_reason,
            "revokedAt": grant.revoked_at.isoformat() if grant.revoked_at else None,
        },
    )


def access_request_decided_emit(request: AccessRequest) -> None:
    """To the requesting organisation. A decision can change later: each one is its own event."""
    event_emit(
        organization=request.organization,
        type="access_request.decided",
        key=f"{request.public_id}:{request.status}:{request.decided_at.isoformat()}",
        data={
            "accessRequest": request.public_id,
            "dataset": request.dataset.public_id,
            "status": request.status,
            "reason": request.reason,
        },
    )


def _grant_holders(dataset_pk: int):
    """The organisations holding a grant in force for the dataset, each once."""
    return Organization.objects.filter(
        pk__in=Grant.objects.active().filter(dataset_id=dataset_pk).values("organization_id")
    ).order_by("pk")


def on_dataset_version_published(sender, version: DatasetVersion, **kwargs) -> None:
    """Every organisation holding a grant for the dataset is told of its new version."""
    dataset = version.dataset
    for organization in _grant_holders(dataset.pk):
        event_emit(
            organization=organization,
            type="dataset.version_published",
            key=f"{dataset.public_id}:v{version.number}",
            data={
                "dataset": dataset.public_id,
                "version": version.number,
                "sha256": version.sha256,
                "sizeBytes": version.size_bytes,
                "publishedAt": version.published_at.isoformat() if version.published_at else None,
            },
        )


def on_dataset_removed(
    sender, dataset: Dataset, reason: str = "", details: dict | None = None, **kwargs
) -> None:
    """Grant holders are told; their grants are not silently revoked (the terms say what to
    do with data already downloaded). A takedown adds its `details` (reason category, what to
    do, and the version when only that one was removed)."""
    details = details or {}
    version = details.get("version")
    for organization in _grant_holders(dataset.pk):
        event_emit(
            organization=organization,
            type="dataset.removed",
            key=f"{dataset.public_id}:v{version}" if version else dataset.public_id,
            data={
                "dataset": dataset.public_id,
                "reason": reason,
                "removedAt": dataset.removed_at.isoformat() if dataset.removed_at else None,
                **details,
            },
        )
