"""The buyer's side of the site: the public catalogue (`/datasets`) and a dataset's page
(`/datasets/<slug or id>`).

The catalogue parses its query string with the API's own serializer and answers from the same
selector and the same cache as `GET /api/datasets`, rendering the same wire cards: what a buyer
finds in the browser is what their script finds. Every state is a GET URL; htmx only swaps the
results in place (the view answers an htmx request with the results fragment)."""

import dataclasses
import json

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from licensing.access_panel import dataset_access_state
from licensing.models import DownloadSession
from licensing.request_meta import client_ip, user_agent
from licensing.selectors import dataset_terms
from licensing.services.downloads import download_session_start
from licensing.terms import FLAG_LABELS, FLAGS
from marketplace.catalogue_cache import catalogue_cached
from marketplace.catalogue_serializers import (
    CatalogueQuerySerializer,
    catalogue_query,
    dataset_card,
)
from marketplace.croissant import croissant_document
from marketplace.models import CheckRun, Dataset, Membership
from marketplace.pricing import pricing_object
from marketplace.selectors import (
    CatalogueQuery,
    catalogue_filters,
    catalogue_search,
    dataset_lookup,
)
from marketplace.services.errors import Gone, NotFound, ServiceError
from marketplace.services.takedowns import dataset_removal_notice, removed_version_numbers
from web.checks import check_view
from web.decorators import actor_required

SORTS = [("", "Best match / newest"), ("relevance", "Relevance"), ("newest", "Newest")]
SORTS += [("size", "Size")]
PRICING = [("", "Free or paid"), ("free", "Free"), ("compensated", "Paid")]
UPLOAD_DATES = [("", "Any time"), ("today", "Today"), ("thisWeek", "This week")]
UPLOAD_DATES += [("thisMonth", "This month"), ("thisYear", "This year")]
# The terms-flag checkboxes: (parameter, value sent when ticked, flag, that value, words).
TERMS_FILTERS = [
    ("commercialUse", "true", "commercial_use", True, "Commercial use allowed"),
    ("modelTraining", "true", "model_training", True, "Model training allowed"),
    ("derivatives", "true", "derivatives", True, "Derivative works allowed"),
    ("shareAlike", "false", "share_alike", False, "No share-alike required"),
    ("attribution", "false", "attribution", False, "No attribution required"),
]


# --- the catalogue -------------------------------------------------------------------------


def _page_url(request, page: int) -> str:
    params = request.GET.copy()
    params["page"] = str(page)
    return f"{reverse('web:catalogue')}?{params.urlencode()}"


def _errors_in_words(errors: dict) -> list[str]:
    words = []
    for field, problems in errors.items():
        for problem in problems if isinstance(problems, list) else [problems]:
            if isinstance(problem, dict):  # a repeated key: {index: [messages]}
                problem = " ".join(str(p) for ps in problem.values() for p in ps)
            words.append(f"{field}: {problem}")
    return words


@require_GET
@vary_on_headers("HX-Request")  # the same URL answers htmx with the results only
def catalogue(request):
    params = CatalogueQuerySerializer(data=request.GET)
    errors: list[str] = []
    status = 200
    if params.is_valid():
        query = catalogue_query(params.validated_data)
        body = catalogue_cached(
            "list",
            dataclasses.asdict(query),
            lambda: catalogue_search(query).body(dataset_card),
        )
        page = json.loads(body)
    else:
        errors = _errors_in_words(params.errors)
        status = 400
        query = CatalogueQuery()
        page = {"items": [], "total": 0, "page": 1, "limit": query.limit}
    last = max(1, -(-page["total"] // page["limit"]))
    context = {
        "query": query,
        "errors": errors,
        "results": page["items"],
        "total": page["total"],
        "page_number": page["page"],
        "last_page": last,
        "previous_url": _page_url(request, page["page"] - 1) if page["page"] > 1 else None,
        "next_url": _page_url(request, page["page"] + 1) if page["page"] < last else None,
    }
    if request.htmx:
        return render(request, "web/catalogue/_results.html", context, status=status)
    facets = json.loads(catalogue_cached("filters", {}, catalogue_filters))
    context.update(
        facets=[
            ("task", "Task", facets["tasks"], query.tasks),
            ("locale", "Locale", facets["locales"], query.locales),
            ("license", "License", facets["licenses"], query.licenses),
            ("format", "Format", facets["formats"], query.formats),
        ],
        typed=request.GET,  # the range inputs keep what was typed, even when refused
        terms_filters=[
            (param, value, words, query.flags.get(flag) is ticked)
            for param, value, flag, ticked, words in TERMS_FILTERS
        ],
        sorts=SORTS,
        pricings=PRICING,
        upload_dates=UPLOAD_DATES,
    )
    return render(request, "web/catalogue/list.html", context, status=status)


# --- a dataset's page ----------------------------------------------------------------------


_JSON_IN_SCRIPT = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def _json_ld(document: dict) -> str:
    """The Croissant document as the text of a `<script type="application/ld+json">` block:
    `<`, `>` and `&` escaped so no value can close the element. A data block is never run, so
    the Content-Security-Policy's script-src does not apply to it."""
    return mark_safe(json.dumps(document, ensure_ascii=False).translate(_JSON_IN_SCRIPT))  # noqa: S308


def _dataset_for(request, id_or_slug: str) -> Dataset:
    """A published dataset by slug or id. A private one only for members of its organisation
    (404 to everyone else, as the API answers); a removed one raises Gone."""
    member_of = None
    if request.user.is_authenticated:
        membership = (
            Membership.objects.filter(
                user=request.user,
                organization__datasets__in=Dataset.objects.filter(
                    Q(public_id=id_or_slug) | Q(slug=id_or_slug)
                ),
            )
            .select_related("organization")
            .first()
        )
        member_of = membership.organization if membership else None
    try:
        return dataset_lookup(id_or_slug=id_or_slug, organization=member_of)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _checks_of(version) -> list:
    """The ingestion checks of the published archive, in the provider's words."""
    run = (
        CheckRun.objects.filter(upload_id=version.submission.file_upload_id)
        .prefetch_related("results")
        .first()
        if version.submission.file_upload_id
        else None
    )
    return [check_view(result) for result in run.results.all()] if run else []


def _statistics(statistics: dict) -> dict:
    """What ingestion counted, in the shape the template lists."""
    if not statistics:
        return {}
    return {
        "files_by_type": sorted((statistics.get("files_by_type") or {}).items()),
        "total_rows": statistics.get("total_rows"),
        "audio_files": statistics.get("audio_files"),
        "audio_hours": statistics.get("audio_hours"),
        "images": statistics.get("images"),
        "columns": sorted((statistics.get("columns") or {}).items()),
    }


def _tombstone(request, slug: str, exc: Gone):
    """A removed dataset's page: when, and the reason category of the takedown notice behind
    it ("other" when staff removed it without one). 410, as the API answers."""
    dataset = Dataset.objects.filter(Q(public_id=slug) | Q(slug=slug)).first()
    notice = dataset_removal_notice(dataset=dataset) if dataset else None
    context = {"message": exc.message, "dataset": dataset, "notice": notice}
    return render(request, "web/catalogue/removed.html", context, status=410)


@require_GET
def dataset_page(request, slug: str):
    try:
        dataset = _dataset_for(request, slug)
    except Gone as exc:
        return _tombstone(request, slug, exc)
    version = dataset.latest_version
    sheet = version.submission
    terms = dataset_terms(dataset)
    actor = request.actor
    access = dataset_access_state(
        dataset=dataset,
        user=request.user if request.user.is_authenticated else None,
        organization=actor.organization if actor else None,
    )
    context = {
        "dataset": dataset,
        "version": version,
        "sheet": sheet,
        "terms": terms,
        "flags": [
            (FLAG_LABELS[name][0], FLAG_LABELS[name][1 if terms.flags[name] else 2])
            for name in FLAGS
        ],
        "pricing": pricing_object(
            is_paid=dataset.is_paid,
            base_price_cents=dataset.base_price_cents,
            currency=dataset.currency or "usd",
        ),
        "versions": list(dataset.versions.order_by("-number")),
        "removed_versions": removed_version_numbers(dataset=dataset),
        "checks": _checks_of(version),
        "statistics": _statistics(version.statistics),
        "has_sample": bool(version.sample_key and version.sample_size_bytes),
        "croissant_json_ld": _json_ld(croissant_document(dataset=dataset, version=version)),
        "access": access,
    }
    return render(request, "web/catalogue/detail.html", context)


@actor_required
@require_POST
def dataset_sample(request, slug: str):
    """A sample download session for the acting organisation (the API's E6 service, so the
    same rules: terms accepted first), then the browser goes to the short-lived URL."""
    try:
        offer = download_session_start(
            actor=request.actor,
            id_or_slug=slug,
            kind=DownloadSession.Kind.SAMPLE,
            user_agent=user_agent(request),
            ip=client_ip(request),
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ServiceError as exc:
        messages.error(request, _reason(exc))
        return redirect("web:catalogue_dataset", slug=slug)
    return HttpResponseRedirect(offer.url, status=303)


def _reason(exc: ServiceError) -> str:
    if exc.code == "terms_not_accepted":
        return "Accept the terms of this dataset first (see “Get access” below), then download the sample."
    return exc.message
