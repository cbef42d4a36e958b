"""Webhook endpoints of the organisation (issue 13 §1), the page twin of `/api/webhook-endpoints`:
list, create (the signing secret is on the response to the POST, once, never stored in the
session or redirected), delete, each endpoint's delivery log with "resend", and re-enabling an
endpoint disabled after repeated failures. The services decide who may (owners write)."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from marketplace.events.delivery import deliveries_of_endpoint, delivery_resend
from marketplace.events.sender import UnsafeUrl
from marketplace.events.services import (
    EVENT_TYPES,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_enable,
    webhook_endpoint_get,
    webhook_endpoints_of,
)
from marketplace.services.errors import Invalid, NotFound, ServiceError
from web.decorators import actor_required
from web.once import once_issue, once_spend

DELIVERIES_SHOWN = 50


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        max_length=2000,
        label="Endpoint URL",
        assume_scheme="https",
        help_text="An https URL of yours that accepts POST requests. Private and loopback "
        "addresses are refused.",
    )
    event_types = forms.MultipleChoiceField(
        label="Events to send",
        choices=[(t, t) for t in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
    )
    description = forms.CharField(max_length=200, required=False, label="Description")
    once = forms.CharField(required=False, widget=forms.HiddenInput)


def _blank_form(request) -> WebhookEndpointForm:
    return WebhookEndpointForm(initial={"once": once_issue(request, "webhook_endpoint")})


def _endpoint(request, endpoint_id: int):
    try:
        return webhook_endpoint_get(actor=request.actor, endpoint_id=endpoint_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _list_page(request, *, form, issued=None, status=200):
    endpoints = webhook_endpoints_of(actor=request.actor)
    return render(
        request,
        "web/webhooks/list.html",
        {"endpoints": endpoints, "form": form, "issued": issued},
        status=status,
    )


@actor_required
@require_http_methods(["GET", "POST"])
def webhooks_page(request):
    if request.method == "GET":
        return _list_page(request, form=_blank_form(request))
    form = WebhookEndpointForm(request.POST)
    if not form.is_valid():
        return _list_page(request, form=form, status=400)
    data = form.cleaned_data
    if data["once"] and not once_spend(request, "webhook_endpoint", data["once"]):
        messages.info(
            request,
            "That endpoint was already added and its signing secret shown once. If you did not "
            "copy it, delete the endpoint and add it again.",
        )
        return redirect("web:webhooks")
    try:
        issued = webhook_endpoint_create(
            actor=request.actor,
            url=data["url"],
            event_types=data["event_types"],
            description=data["description"],
        )
    except UnsafeUrl as exc:
        form.add_error("url", exc.message)
    except Invalid as exc:
        form.add_error("event_types" if exc.code == "invalid_event_types" else None, exc.message)
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return _list_page(request, form=form, status=exc.status_code)
    else:
        return _list_page(request, form=_blank_form(request), issued=issued, status=201)
    return _list_page(request, form=form, status=400)


@actor_required
@require_GET
def webhook_detail(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    deliveries = list(deliveries_of_endpoint(endpoint=endpoint)[:DELIVERIES_SHOWN])
    return render(
        request,
        "web/webhooks/detail.html",
        {"endpoint": endpoint, "deliveries": deliveries, "shown": DELIVERIES_SHOWN},
    )


@actor_required
@require_POST
def webhook_delete(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    try:
        webhook_endpoint_delete(actor=request.actor, endpoint=endpoint)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("web:webhook_detail", endpoint_id=endpoint.pk)
    messages.success(request, f"The endpoint {endpoint.url} is deleted.")
    return redirect("web:webhooks")


@actor_required
@require_POST
def webhook_enable(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    try:
        webhook_endpoint_enable(actor=request.actor, endpoint=endpoint)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "The endpoint is enabled again. Resend the deliveries it missed from its log.",
        )
    return redirect("web:webhook_detail", endpoint_id=endpoint.pk)


@actor_required
@require_POST
def webhook_resend(request, endpoint_id: int, delivery_id: int):
    endpoint = _endpoint(request, endpoint_id)
    try:
        delivery_resend(actor=request.actor, endpoint=endpoint, delivery_id=delivery_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The delivery is queued again (same event id).")
    return redirect("web:webhook_detail", endpoint_id=endpoint.pk)
