"""`request.actor`: who a signed-in browser user acts as (the organisation picked in the session,
with their current role in it), for every page. API, webhook, health and static paths never need
it and are not charged the query. And the Content-Security-Policy of every response."""

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from marketplace.actors import actor_for_session

SKIP_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/static/", "/.well-known/")


class ActiveOrganizationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.actor = None
        if not request.path.startswith(SKIP_PREFIXES) and request.user.is_authenticated:
            request.actor = actor_for_session(user=request.user, session=request.session)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy (`CONTENT_SECURITY_POLICY`) plus the origins known only from other
    settings: the object store the uploader PUTs parts to (connect-src) and Stripe.js
    (`STRIPE_JS_URL`: https://js.stripe.com in production, the emulator's in development)."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if report_only:
            return parts
        update = dict(parts.update or {})
        extra = {
            # Stripe.js's confirmPayment calls Stripe's API (the emulator's in development).
            "connect-src": [*storage_origins(), origin_of(settings.STRIPE_API_BASE)],
            "script-src": [origin_of(settings.STRIPE_JS_URL)],
            "frame-src": [origin_of(settings.STRIPE_JS_URL)],
        }
        for directive, origins in extra.items():
            origins = [o for o in origins if o]
            if origins:
                update[directive] = [*update.get(directive, []), *origins]
        parts.update = update
        return parts


def origin_of(url: str | None) -> str:
    if not url:
        return ""
    parsed = urlsplit(url)
    return f"{parsed.scheme}://{parsed.netloc}" if parsed.scheme and parsed.netloc else ""


def storage_origins() -> list[str]:
    """Where presigned upload and download URLs point: the configured endpoint, or AWS S3's
    regional host in both addressing styles."""
    if settings.AWS_S3_ENDPOINT_URL:
        return [origin_of(settings.AWS_S3_ENDPOINT_URL)]
    bucket, region = settings.AWS_STORAGE_BUCKET_NAME, settings.AWS_S3_REGION_NAME
    return [
        f"https://s3.{region}.amazonaws.com",
        f"https://{bucket}.s3.{region}.amazonaws.com",
        f"https://{bucket}.s3.amazonaws.com",
    ]


class AdminLoginMiddleware:
    """The Django admin's login form is never used: it has no rate limit, lockout or two-factor.
    Signed-out visitors of /admin/login/ are sent to the site's sign-in (allauth: limits,
    lockout, two-factor) and come back to the admin; a signed-in user who is not staff gets 403
    (sending them to sign in again would loop)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.admin_login = None

    def __call__(self, request):
        if self.admin_login is None:
            self.admin_login = reverse("admin:login")
        if request.path != self.admin_login:
            return self.get_response(request)
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff:
            return self.get_response(request)
        if user.is_authenticated:
            raise PermissionDenied("Staff only.")
        target = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:index")
        return redirect_to_login(target, resolve_url(settings.LOGIN_URL))
