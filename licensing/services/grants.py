"""Grants: an organisation's right to download a dataset (every member's key, every version,
while active). Orders call `grant_issue` once paid and `grant_revoke` on a full refund."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from licensing.models import Grant, TermsDocument
from licensing.selectors import dataset_terms
from licensing.services.certificates import certificate_issue
from licensing.services.deletion_manifests import deletion_manifests_issue_for_grant
from licensing.services.events import grant_revoked_emit
from licensing.services.terms import terms_document_ensure
from marketplace.models import Dataset, Organization, User
from marketplace.services.audit import audit_record
from marketplace.services.errors import Invalid

HEX = set("0123456789abcdef")


def order_ref(order) -> str:
    """How a grant names its order: the order's public id if it has one, else its pk."""
    if order is None:
        return ""
    return str(getattr(order, "public_id", None) or order.pk)


@transaction.atomic
def grant_issue(
    *,
    organization: Organization,
    dataset: Dataset,
    terms_hash: str,
    source: str,
    order=None,
    actor: User | None,
    price_paid_cents: int | None = None,
    currency: str | None = None,
    expires_at=None,
) -> Grant:
    """Grant `organization` the right to download `dataset` under the terms `terms_hash`, and
    sign its license certificate, in one transaction.

    Idempotent per order: a second call for the same order (a retried webhook, a concurrent
    delivery) returns the first grant; the database's unique `order_ref` enforces it. The price
    is `price_paid_cents` or else the order's `total_price_cents` (and `currency`); None for a
    grant without payment. `terms_hash` must be the dataset's current terms or a version of
    them someone accepted (stored). The publishing organisation needs no grant."""
    ref = order_ref(order)
    if ref:
        existing = Grant.objects.filter(order_ref=ref).first()
        if existing is not None:
            return existing
    if source not in Grant.Source.values:
        raise Invalid(f"source: one of {', '.join(Grant.Source.values)}.")
    if dataset.latest_version_id is None:
        raise Invalid(f"Dataset {dataset.public_id} is not published.")
    if organization.pk == dataset.organization_id:
        raise Invalid("The publishing organisation can always download its dataset; no grant.")
    terms_hash = (terms_hash or "").strip().lower()
    if len(terms_hash) != 64 or not set(terms_hash) <= HEX:
        raise Invalid("terms_hash: a SHA-256 hex digest of the dataset's terms.")
    current = dataset_terms(dataset)
    if terms_hash == current.hash:
        terms_document_ensure(dataset=dataset, terms=current)
    elif not TermsDocument.objects.filter(dataset=dataset, terms_hash=terms_hash).exists():
        raise Invalid("terms_hash: not a version of this dataset's terms.")
    if price_paid_cents is None and order is not None:
        price_paid_cents = getattr(order, "total_price_cents", None)
    if currency is None:
        currency = getattr(order, "currency", None) or (
            dataset.currency if price_paid_cents else ""
        )
    try:
        with transaction.atomic():
            grant = Grant.objects.create(
                organization=organization,
                dataset=dataset,
                terms_hash=terms_hash,
                source=source,
                order_ref=ref,
                price_paid_cents=price_paid_cents,
                currency=currency or "",
                expires_at=expires_at,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:
        if ref:  # the concurrent twin committed first
            return Grant.objects.get(order_ref=ref)
        raise
    certificate_issue(grant=grant)
    audit_record(
        actor=actor,
        organization=organization,
        action="grant.issue",
        obj=grant,
        data={
            "grant": grant.public_id,
            "dataset": dataset.public_id,
            "source": source,
            "order": ref or None,
            "priceCents": price_paid_cents,
        },
    )
    deletion_manifests_issue_for_grant(grant=grant)
    return grant


@transaction.atomic
def grant_revoke(*, grant: Grant, actor: User | None, reason: str = "") -> Grant:
    """Revoke a grant (refund, takedown, staff decision): downloads stop at once and the verify
    endpoint reports its certificates revoked. Idempotent."""
    grant = Grant.objects.select_for_update().get(pk=grant.pk)
    if grant.status == Grant.Status.REVOKED:
        return grant
    grant.status = Grant.Status.REVOKED
    grant.revoked_at = timezone.now()
    grant.revoked_by = actor if getattr(actor, "pk", None) else None
    grant.revoke_reason = (reason or "").strip()
    grant.save(update_fields=["status", "revoked_at", "revoked_by", "revoke_reason", "updated_at"])
    audit_record(
        actor=actor,
        organization=grant.organization,
        action="grant.revoke",
        obj=grant,
        data={"grant": grant.public_id, "reason": grant.revoke_reason},
    )
    grant_revoked_emit(grant)
    return grant


def grants_expire(*, now=None) -> int:
    """Active grants past their `expires_at` (the complement of `Grant.objects.active()` among
    active rows) become expired (downloads already refuse them by
    date; this makes the status say so). Returns how many changed. Idempotent."""
    now = now or timezone.now()
    return Grant.objects.filter(status=Grant.Status.ACTIVE, expires_at__lte=now).update(
        status=Grant.Status.EXPIRED, updated_at=now
    )
