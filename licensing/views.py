"""Web pages and public documents of the licensing app: the terms page (read and accept as a
logged-in member of an organisation) and the JWKS of the certificate keys."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods

from licensing.forms import TermsAcceptForm
from licensing.models import TermsAcceptance
from licensing.request_meta import client_ip, user_agent
from licensing.selectors import dataset_get, dataset_terms, private_check, terms_accepted
from licensing.services.terms import terms_accept
from licensing.signing import jwks
from marketplace.actors import actor_for_member
from marketplace.models import Dataset, Membership
from marketplace.services.errors import Conflict, Forbidden, ServiceError


@require_GET
@cache_control(public=True, max_age=300)
def jwks_view(request):
    """The public keys that sign license certificates (RFC 7517 JWK Set)."""
    return JsonResponse(jwks(), content_type="application/jwk-set+json")


def _dataset_or_404(id_or_slug: str, user):
    """Published datasets; a private one only for members of its organisation."""
    # The user's membership in the dataset's organisation, if any: the one who may see it
    # when it is private (dataset_get answers 404 to everyone else).
    membership = (
        Membership.objects.filter(
            user=user,
            organization__datasets__in=Dataset.objects.filter(
                Q(public_id=id_or_slug) | Q(slug=id_or_slug)
            ),
        )
        .select_related("organization")
        .first()
    )
    try:
        return dataset_get(
            id_or_slug=id_or_slug, organization=membership.organization if membership else None
        )
    except ServiceError as exc:
        raise Http404(exc.message) from exc


@login_required
@require_http_methods(["GET", "POST"])
def terms_page(request, id_or_slug: str):
    dataset = _dataset_or_404(id_or_slug, request.user)
    terms = dataset_terms(dataset)
    form = TermsAcceptForm(
        request.POST or None, user=request.user, initial={"terms_hash": terms.hash}
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        organization = form.cleaned_data["organization"]
        try:
            terms_accept(
                actor=actor_for_member(user=request.user, organization=organization),
                dataset=dataset,
                terms_hash=form.cleaned_data["terms_hash"],
                via=TermsAcceptance.Via.WEB,
                ip=client_ip(request),
                user_agent=user_agent(request),
            )
        except Conflict:
            # The page the user read is out of date: show the current text to read again.
            messages.error(
                request,
                "These terms changed while you were reading them. Please read the current "
                "version below and accept it again.",
            )
            form = TermsAcceptForm(user=request.user, initial={"terms_hash": terms.hash})
            status = 409
        except Forbidden as exc:
            messages.error(request, exc.message)
            status = 403
        else:
            messages.success(request, f"{organization.name} accepted the terms of {dataset.name}.")
            return redirect(request.path)
    elif request.method == "POST":
        status = 400
    organizations = list(form.fields["organization"].queryset)
    accepted_by = []
    for organization in organizations:
        try:
            private_check(dataset=dataset, organization=organization)
        except Forbidden:
            continue
        if terms_accepted(organization=organization, dataset=dataset, terms_hash=terms.hash):
            accepted_by.append(organization)
    return render(
        request,
        "licensing/terms.html",
        {
            "dataset": dataset,
            "terms": terms,
            "form": form,
            "organizations": organizations,
            "accepted_by": accepted_by,
        },
        status=status,
    )
