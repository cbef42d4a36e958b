"""Two-factor authentication for staff in the admin (WEB_STAFF_MFA_REQUIRED, on in production).

A signed-in staff user reaches the admin only with an activated TOTP authenticator (allauth's),
and only in a session in which they entered a code from it: without one they are sent to set it
up, with one but a session signed in by password alone they are asked for a code (allauth's
reauthentication, which records the "mfa" method in the session). The admin's login and logout
pages stay reachable so a user can sign in or out at all."""

from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse


def _with_next(url: str, request) -> str:
    return f"{url}?{urlencode({'next': request.get_full_path()})}"


class StaffMfaMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.WEB_STAFF_MFA_REQUIRED:
            redirect = self._redirect(request)
            if redirect is not None:
                return redirect
        return self.get_response(request)

    def _redirect(self, request):
        admin = reverse("admin:index")
        if not request.path.startswith(admin) or request.path in (
            reverse("admin:login"),
            reverse("admin:logout"),
        ):
            return None
        user = request.user
        if not user.is_authenticated or not user.is_staff:
            return None
        if not is_mfa_enabled(user, [Authenticator.Type.TOTP]):
            messages.warning(
                request,
                "Staff need two-factor authentication: set up an authenticator app to use the "
                "admin.",
            )
            return HttpResponseRedirect(_with_next(reverse("mfa_activate_totp"), request))
        if not any(r.get("method") == "mfa" for r in get_authentication_records(request, user)):
            return HttpResponseRedirect(_with_next(reverse("mfa_reauthenticate"), request))
        return None
