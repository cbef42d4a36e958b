"""The licensee's library (/library: grants, certificates, downloads, receipts, access requests)
and the public certificate check (/verify). The same selectors and services as the API: a
certificate downloaded here is `GET /api/grants/{id}/certificate`'s, a check here is
`POST /api/certificates/verify`'s, a download here is a download session of E4."""

from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from licensing.models import DownloadSession, Grant
from licensing.request_meta import client_ip, user_agent
from licensing.selectors_library import (
    access_requests_sent,
    grant_refusal,
    library_entry,
    library_grants,
    receipt_of_organization,
    receipts_of_organization,
)
from licensing.services.certificates import certificate_current, certificate_verify
from licensing.services.downloads import download_session_start
from marketplace.services.errors import NotFound, ServiceError
from marketplace.throttling import budget_take, caller_ident, parse_rate
from marketplace.throttling import client_ip as throttle_ip


def member_required(view):
    """Signed in (else the login page) and acting for an organisation (else the page that
    creates one): `request.actor` is set by the web middleware."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.actor is None:
            messages.info(request, "Create an organisation first, or accept an invitation to one.")
            return redirect("web:organization_new")
        return view(request, *args, **kwargs)

    return wrapped


def _entry_or_404(request, grant_id: str):
    try:
        return library_entry(organization=request.actor.organization, grant_id=grant_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@member_required
@require_GET
def library_page(request):
    organization = request.actor.organization
    return render(
        request,
        "licensing/library.html",
        {
            "entries": library_grants(organization=organization),
            "receipts": list(receipts_of_organization(organization=organization)),
            "access_requests": list(access_requests_sent(organization=organization)),
        },
    )


@member_required
@require_GET
def certificate_page(request, grant_id: str):
    """The grant's current certificate: its claims in words, the token, verify and download."""
    entry = _entry_or_404(request, grant_id)
    certificate = certificate_current(grant=entry.grant)
    return render(
        request,
        "licensing/certificate.html",
        {
            "entry": entry,
            "certificate": certificate,
            "claims": certificate.claims,
            "jwks_url": f"{settings.PUBLIC_BASE_URL}/.well-known/jwks.json",
        },
    )


@member_required
@require_GET
def certificate_download(request, grant_id: str):
    """The compact JWS, exactly the `certificate` of `GET /api/grants/{id}/certificate`."""
    entry = _entry_or_404(request, grant_id)
    certificate = certificate_current(grant=entry.grant)
    response = HttpResponse(certificate.token, content_type="application/jose")
    response["Content-Disposition"] = (
        f'attachment; filename="{entry.grant.public_id}-{certificate.public_id}.jws"'
    )
    return response


@member_required
@require_POST
def grant_download(request, grant_id: str):
    """A download session of a version of the grant's dataset (the form's `version`, else the
    latest), then the presigned URL; refused with the reason when the grant is revoked, expired
    or suspended."""
    entry = _entry_or_404(request, grant_id)
    refusal = grant_refusal(entry.grant, entry.order)
    raw_version = request.POST.get("version", "")
    if raw_version and not (raw_version.isdigit() and 0 < int(raw_version) < 2**31):
        refusal = refusal or f"{raw_version[:20]!r} is not a version number."
    if not refusal:
        try:
            offer = download_session_start(
                actor=request.actor,
                id_or_slug=entry.grant.dataset.public_id,
                kind=DownloadSession.Kind.DATASET,
                user_agent=user_agent(request),
                ip=client_ip(request),
                version_number=int(raw_version) if raw_version else None,
            )
        except ServiceError as exc:
            refusal = exc.message
        else:
            return redirect(offer.url)
    messages.error(request, f"{entry.grant.dataset.name}: {refusal}")
    return redirect("licensing_web:library")


@member_required
@require_GET
def receipt_page(request, order_id: str):
    try:
        order = receipt_of_organization(organization=request.actor.organization, order_id=order_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return render(request, "licensing/library_receipt.html", {"order": order})


# --- /verify ------------------------------------------------------------------------------------


class CertificateVerifyForm(forms.Form):
    certificate = forms.CharField(
        label="License certificate (compact JWS)",
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "autocomplete": "off"}),
        help_text="Paste the certificate exactly as downloaded: three parts separated by dots.",
    )


def verify_budget_spent(request) -> float:
    """The API's certificate-verification budget (`API_THROTTLE_SCOPES["certificate_verify"]`),
    per caller and per IP address, shared with `POST /api/certificates/verify`: seconds to wait
    when spent, else 0."""
    rates = settings.API_THROTTLE_SCOPES.get("certificate_verify")
    if not rates:
        return 0.0
    wait = 0.0
    budgets = [
        (f"certificate_verify:caller:{caller_ident(request)}", rates["caller"]),
        (f"certificate_verify:ip:{throttle_ip(request)}", rates["ip"]),
    ]
    for key, rate in budgets:
        limit, period = parse_rate(rate)
        allowed, seconds = budget_take(key, limit=limit, period_seconds=period)
        if not allowed:
            wait = max(wait, seconds, 1.0)
    return wait


@require_http_methods(["GET", "POST"])
def verify_page(request):
    """Anyone pastes a certificate: genuine or not, what it grants, whether the grant is still
    in force. No login."""
    form = CertificateVerifyForm(request.POST or None)
    result, status = None, 200
    if request.method == "POST":
        status = 400
        wait = verify_budget_spent(request)
        if wait:
            form.is_valid()
            form.add_error(
                None,
                f"Too many certificate checks from you: try again in {int(wait) + 1} seconds.",
            )
            status = 429
        elif form.is_valid():
            try:
                result = certificate_verify(token=form.cleaned_data["certificate"])
            except ServiceError as exc:
                form.add_error("certificate", f"This is not a license certificate: {exc.message}")
            else:
                status = 200
    return render(
        request,
        "licensing/verify.html",
        {
            "form": form,
            "result": result,
            "active": bool(result and result.valid and result.status == Grant.Status.ACTIVE),
            "jwks_url": f"{settings.PUBLIC_BASE_URL}/.well-known/jwks.json",
        },
        status=status,
    )
