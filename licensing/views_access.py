"""The "Get access" panel's actions (it is rendered on the dataset page from
`licensing.access_panel.dataset_access_state`) and the order page where the buyer pays in the
browser with Stripe.js. Each action calls the same service as the API; the order page never
marks anything paid itself: Stripe's webhook does, and the page polls a status fragment."""

from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from licensing.access_panel import dataset_access_state
from licensing.models import DownloadSession, Order, TermsAcceptance
from licensing.request_meta import client_ip, user_agent
from licensing.selectors import dataset_get
from licensing.services.access_requests import access_request_create
from licensing.services.downloads import download_session_start
from licensing.services.orders import order_create
from licensing.services.terms import terms_accept
from marketplace.services.errors import ServiceError

# Order states the status fragment keeps polling in (the webhook has not settled them yet).
OPEN_STATES = (Order.Status.PENDING, Order.Status.FAILED)


def acting(view):
    """Signed in and acting for an organisation (`request.actor`, set by the web middleware);
    otherwise the sign-in page or the page that creates an organisation."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if getattr(request, "actor", None) is None or request.actor.organization is None:
            messages.info(request, "Create an organisation first, or accept an invitation to one.")
            return redirect("web:organization_new")
        return view(request, *args, **kwargs)

    return wrapped


class AccessRequestForm(forms.Form):
    """What the organisation and the session do not already tell the publisher."""

    name = forms.CharField(max_length=200, label="Your name")
    intended_use = forms.CharField(max_length=5000, label="Intended use", widget=forms.Textarea)


def _dataset(request, id_or_slug: str):
    try:
        return dataset_get(id_or_slug=id_or_slug, organization=request.actor.organization)
    except ServiceError as exc:
        raise Http404(exc.message) from exc


def dataset_page_url(dataset) -> str:
    """The public dataset page (web's `/datasets/<slug>`), at its "Get access" panel."""
    return f"/datasets/{dataset.slug or dataset.public_id}#get-access"


def _back(request, dataset):
    """Back to the page the form was on (a local URL only), else the dataset page."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = dataset_page_url(dataset)
    elif "#" not in target:
        target += "#get-access"
    return redirect(target)


@acting
@require_POST
def access_terms_accept(request, id_or_slug: str):
    """Accept the dataset's current terms for the active organisation (as the terms page)."""
    dataset = _dataset(request, id_or_slug)
    if not request.POST.get("agree"):
        messages.error(request, "Tick the box to confirm that you accept the terms.")
        return _back(request, dataset)
    try:
        terms_accept(
            actor=request.actor,
            dataset=dataset,
            terms_hash=request.POST.get("terms_hash", ""),
            via=TermsAcceptance.Via.WEB,
            ip=client_ip(request),
            user_agent=user_agent(request),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{request.actor.organization.name} accepted the terms of {dataset.name}."
        )
    return _back(request, dataset)


@acting
@require_POST
def access_request_submit(request, id_or_slug: str):
    """Ask the publisher of a restricted dataset for access. The organisation's name is the
    active organisation's; a form with errors comes back with them, keeping what was typed."""
    dataset = _dataset(request, id_or_slug)
    form = AccessRequestForm(request.POST)
    if form.is_valid():
        try:
            found, _ = access_request_create(
                actor=request.actor,
                dataset=dataset,
                name=form.cleaned_data["name"],
                organization_name=request.actor.organization.name,
                intended_use=form.cleaned_data["intended_use"],
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Access request {found.public_id}: {found.status}.")
            return _back(request, dataset)
    access = dataset_access_state(
        dataset=dataset, user=request.user, organization=request.actor.organization
    )
    return render(
        request,
        "licensing/access_request_form.html",
        {"dataset": dataset, "access": access, "access_form": form},
        status=400,
    )


@acting
@require_POST
def access_download(request, id_or_slug: str):
    """A download session through the same service as `POST /api/datasets/{id}/download`, then
    the browser goes to the presigned URL (resumable: it is a plain GET of the object)."""
    dataset = _dataset(request, id_or_slug)
    try:
        offer = download_session_start(
            actor=request.actor,
            id_or_slug=dataset.public_id,
            kind=DownloadSession.Kind.DATASET,
            user_agent=user_agent(request),
            ip=client_ip(request),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _back(request, dataset)
    return redirect(offer.url)


@acting
@require_POST
def access_order(request, id_or_slug: str):
    """Create the order (or get the open one) through the same service as `POST /api/orders`,
    with the Idempotency-Key the panel rendered: a double click is one order, one
    PaymentIntent. Then the order page takes the payment."""
    dataset = _dataset(request, id_or_slug)
    try:
        order = order_create(
            actor=request.actor,
            dataset_id=dataset.public_id,
            idempotency_key=request.POST.get("idempotency_key", ""),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _back(request, dataset)
    return redirect("licensing_web:order", order_id=order.public_id)


def _order_of(request, order_id: str) -> Order:
    """The active organisation's order; another organisation's is 404 (no existence leak)."""
    order = (
        Order.objects.select_related("dataset", "dataset_version")
        .filter(organization=request.actor.organization, public_id=order_id)
        .first()
    )
    if order is None:
        raise Http404(f"Order {order_id} not found.")
    return order


def _order_context(request, order: Order) -> dict:
    return {
        "order": order,
        "open": order.status in OPEN_STATES,
        "status_url": reverse("licensing_web:order_status", kwargs={"order_id": order.public_id}),
        "dataset_url": dataset_page_url(order.dataset),
    }


@acting
@require_GET
def order_page(request, order_id: str):
    """Pay an open order with Stripe.js (Payment Element + confirmPayment); its receipt once
    paid. The status panel follows the order as the webhook settles it."""
    order = _order_of(request, order_id)
    context = _order_context(request, order)
    context.update(
        stripe_js_url=settings.STRIPE_JS_URL,
        stripe_publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
        return_url=request.build_absolute_uri(request.path),
    )
    return render(request, "licensing/order.html", context)


@acting
@require_GET
def order_status(request, order_id: str):
    """The order's status panel (htmx polls it while the order is open)."""
    order = _order_of(request, order_id)
    return render(request, "licensing/order_status.html", _order_context(request, order))
