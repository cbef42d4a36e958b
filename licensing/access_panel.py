"""What the dataset page's "Get access" panel shows (the template
licensing/templates/licensing/_access_panel.html renders it; the services decide again on each
POST)."""

from __future__ import annotations

import secrets

from licensing.models import AccessRequest, Grant, Order
from licensing.selectors import dataset_terms, download_context
from marketplace.models import Dataset, Organization, Visibility
from marketplace.pricing import pricing_object


def dataset_access_state(*, dataset: Dataset, user, organization: Organization | None) -> dict:
    """What the dataset page's "Get access" panel shows the user acting for `organization`:
    the terms (hash, accepted), the access request, the open order, the active grant, and the
    `step` they are at (sign_in, join, owner, request_access, pending, rejected, accept_terms,
    pay, suspended, download). The panel renders this; the services decide again on each POST."""
    terms = dataset_terms(dataset)
    state = {
        "visibility": dataset.visibility,
        "restricted": dataset.visibility == Visibility.RESTRICTED,
        "is_paid": bool(dataset.is_paid and dataset.base_price_cents),
        "pricing": pricing_object(
            is_paid=dataset.is_paid,
            base_price_cents=dataset.base_price_cents,
            currency=dataset.currency or "usd",
        ),
        # The Idempotency-Key the "Pay" form sends: one per page render, so a double click (or
        # a resubmitted form) is the same order request.
        "order_key": secrets.token_urlsafe(24),
        "terms_hash": terms.hash,
        "terms_accepted": False,
        "access_request": None,
        "open_order": None,
        "grant": None,
        "grant_suspended": False,
        "organization": organization,
    }
    if user is None or not user.is_authenticated or organization is None:
        state["step"] = "sign_in" if user is None or not user.is_authenticated else "join"
        return state
    if organization.pk == dataset.organization_id:
        state.update(step="owner", terms_accepted=True)
        return state
    _, facts = download_context(id_or_slug=dataset.public_id, organization=organization)
    request, grant = facts.access_request, None
    if facts.grant_id is not None:
        grant = Grant.objects.only("pk", "public_id").get(pk=facts.grant_id)
    state.update(
        terms_accepted=terms.hash in facts.accepted_hashes,
        access_request=request,
        grant=grant,
        grant_suspended=bool(
            facts.grant_dispute and facts.grant_dispute["grant"] == facts.grant_id
        ),
        open_order=Order.objects.filter(
            organization=organization, dataset=dataset, status__in=["pending", "failed"]
        ).first(),
    )
    status = (request or {}).get("status")
    if state["restricted"] and status != AccessRequest.Status.APPROVED:
        state["step"] = status or "request_access"  # pending / rejected
    elif not state["terms_accepted"]:
        state["step"] = "accept_terms"
    elif state["is_paid"] and grant is None:
        state["step"] = "pay"
    else:
        state["step"] = "suspended" if state["grant_suspended"] else "download"
    return state
