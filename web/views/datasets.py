"""The provider workspace: the organisation's published datasets (as buyers see them, with their
download history and access settings) and its access requests, received (decide, change a
decision) and sent (read only). Every action is a POST that calls one service; the services the
API calls decide who may do what. htmx swaps the request list and a decided request in place;
without JavaScript the same links and forms load whole pages."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from licensing.selectors import (
    access_request_visible,
    dataset_of_owner,
    dataset_terms,
    downloads_of_dataset,
)
from licensing.services.access_requests import access_request_decide
from licensing.terms import FLAG_LABELS, FLAGS
from marketplace.models import Visibility
from marketplace.pagination import PageQuerySerializer, page_args, paginate
from marketplace.pricing import pricing_object
from marketplace.services.datasets import dataset_access_settings_update
from marketplace.services.errors import ServiceError
from web import dataset_selectors as reads
from web.dataset_forms import AccessRequestDecisionForm, AccessSettingsForm, InboxQueryForm
from web.decorators import actor_required

DATASETS_PER_PAGE = 50
DOWNLOADS_PER_PAGE = 25
REQUESTS_PER_PAGE = 25


def _paged(request, rows, *, limit: int) -> dict:
    """The `?page=` of `rows` through marketplace.pagination (a bad number is page 1), with the
    neighbours the pager links to."""
    params = PageQuerySerializer(data={"page": request.GET.get("page", 1), "limit": limit})
    valid = params.is_valid()
    page = paginate(
        rows, **(page_args(params.validated_data) if valid else {"page": 1, "limit": limit})
    )
    last = max(1, -(-page.total // page.limit))
    return {
        "page": page,
        "previous_page": page.page - 1 if page.page > 1 else None,
        "next_page": page.page + 1 if page.page < last else None,
        "last_page": last,
    }


def _pricing(dataset) -> dict:
    return pricing_object(
        is_paid=dataset.is_paid,
        base_price_cents=dataset.base_price_cents,
        currency=dataset.currency or "usd",
    )


# --- datasets ------------------------------------------------------------------------------------


def _dataset(request, dataset_id: str):
    """The acting organisation's dataset; another organisation's (or an unknown id) is 404."""
    try:
        return dataset_of_owner(organization=request.actor.organization, id_or_slug=dataset_id)
    except ServiceError as exc:
        raise Http404(exc.message) from exc


@actor_required
@require_GET
def dataset_list(request):
    paged = _paged(
        request,
        reads.datasets_of_organization(request.actor.organization),
        limit=DATASETS_PER_PAGE,
    )
    rows = [(d, _pricing(d)) for d in paged["page"].items]
    return render(request, "web/datasets/list.html", {"rows": rows, **paged})


def _detail_context(request, dataset, *, settings_form=None) -> dict:
    terms = dataset_terms(dataset)
    sheet = dataset.latest_version.submission
    downloads = _paged(request, downloads_of_dataset(dataset=dataset), limit=DOWNLOADS_PER_PAGE)
    return {
        "dataset": dataset,
        "sheet": sheet,
        "terms": terms,
        "flags": [
            (FLAG_LABELS[name][0], FLAG_LABELS[name][1 if terms.flags[name] else 2], name)
            for name in FLAGS
        ],
        "pricing": _pricing(dataset),
        "versions": list(dataset.versions.order_by("-number")),
        "downloads": [(s, reads.download_client(s)) for s in downloads["page"].items],
        **downloads,
        "pending_requests": reads.pending_requests_of(dataset),
        "restricted": dataset.visibility == Visibility.RESTRICTED,
        "settings_form": settings_form
        or AccessSettingsForm(initial={"auto_approve": sheet.auto_approve_access_requests}),
    }


@actor_required
@require_GET
def dataset_detail(request, dataset_id: str):
    dataset = _dataset(request, dataset_id)
    return render(request, "web/datasets/detail.html", _detail_context(request, dataset))


@actor_required
@require_POST
def dataset_access_settings(request, dataset_id: str):
    dataset = _dataset(request, dataset_id)
    form = AccessSettingsForm(request.POST)
    if form.is_valid():
        auto = form.cleaned_data["auto_approve"]
        try:
            dataset_access_settings_update(actor=request.actor, dataset=dataset, auto_approve=auto)
        except ServiceError as exc:
            form.add_error("auto_approve", exc.message.partition(": ")[2] or exc.message)
        else:
            messages.success(
                request,
                "New access requests are approved automatically."
                if auto
                else "New access requests wait for your decision.",
            )
            return redirect("web:dataset_detail", dataset_id=dataset.public_id)
    context = _detail_context(request, dataset, settings_form=form)
    return render(request, "web/datasets/detail.html", context, status=400)


# --- access requests ---------------------------------------------------------------------------


def _inbox_context(request, *, bound=None) -> dict:
    """The page for `?direction=&status=&page=`; `bound` is a decision form with errors, shown
    on its request's card."""
    direction, status = InboxQueryForm(request.GET).values()
    inbox, rows = reads.inbox_of(
        organization=request.actor.organization, direction=direction, status=status
    )
    paged = _paged(request, rows, limit=REQUESTS_PER_PAGE)
    query = request.GET.urlencode()
    cards = []
    for access_request in paged["page"].items:
        form = None
        if direction == "received":
            form = (
                bound
                if bound is not None and bound.access_request.pk == access_request.pk
                else AccessRequestDecisionForm(access_request=access_request)
            )
        cards.append(_card(access_request, form, query=query))
    if bound is not None and not any(c["form"] is bound for c in cards):
        for error in bound.errors.values():
            messages.error(request, " ".join(error))
    return {
        "inbox": inbox,
        "cards": cards,
        "tabs": [(value, label, inbox.counts[value]) for value, label in reads.STATUS_TABS],
        **paged,
    }


def _card(access_request, form, *, query: str, note: str = "") -> dict:
    action = reverse("web:access_request_decide", args=[access_request.public_id])
    return {
        "request": access_request,
        "form": form,
        "action": f"{action}?{query}" if query else action,
        "note": note,
    }


@actor_required
@require_GET
@vary_on_headers("HX-Request", "HX-Target")  # the same URL answers htmx with the list only
def access_requests_page(request):
    context = _inbox_context(request)
    if request.htmx and request.htmx.target == "inbox":
        return render(request, "web/datasets/_inbox.html", context)
    return render(request, "web/datasets/access_requests.html", context)


def _back_to_inbox(request):
    query = request.GET.urlencode()
    return redirect(reverse("web:access_requests") + (f"?{query}" if query else ""))


@actor_required
@require_POST
def access_request_decide_view(request, request_id: str):
    """Approve (optional reason) or reject (reason required: the service says so) a request the
    organisation received, or change the decision. htmx gets the request's card back; a plain
    POST goes back to the list it came from (or the list again with the error in place)."""
    try:
        found = access_request_visible(
            organization=request.actor.organization, request_id=request_id
        )
    except ServiceError as exc:
        raise Http404(exc.message) from exc
    form = AccessRequestDecisionForm(request.POST, access_request=found)
    if form.is_valid():
        try:
            decided = access_request_decide(
                actor=request.actor,
                access_request=found,
                approve=form.approve,
                reason=form.cleaned_data["reason"],
            )
        except ServiceError as exc:
            form.add_service_error(exc.message)
        else:
            who, what = found.organization.name, found.dataset.name
            note = (
                f"Approved: {who} can download “{what}” once they accept its terms."
                if form.approve
                else f"Rejected: {who} cannot download “{what}”; they can read your reason."
            )
            if not request.htmx:
                messages.success(request, note)
                return _back_to_inbox(request)
            decided = access_request_visible(
                organization=request.actor.organization, request_id=decided.public_id
            )
            card = _card(
                decided,
                AccessRequestDecisionForm(access_request=decided),
                query=request.GET.urlencode(),
                note=note,
            )
            return render(request, "web/datasets/_request.html", {"card": card})
    if request.htmx:
        # htmx swaps only 2xx answers: the card with its errors comes back as 200.
        card = _card(found, form, query=request.GET.urlencode())
        return render(request, "web/datasets/_request.html", {"card": card})
    return render(
        request,
        "web/datasets/access_requests.html",
        _inbox_context(request, bound=form),
        status=400,
    )
