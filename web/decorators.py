"""Page guards. A page that acts for an organisation needs a signed-in user who belongs to one
(`request.actor`, set by web.middleware); everything else about who may do what is decided by
the services."""

from functools import wraps

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect


def actor_required(view):
    """Signed in (else the login page, with `next`) and acting for an organisation (else the
    page that creates one)."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.actor is None:
            messages.info(request, "Create an organisation first, or accept an invitation to one.")
            return redirect("web:organization_new")
        return view(request, *args, **kwargs)

    return wrapped


def money_settings_allowed(request) -> bool:
    """Owners change price and payout settings only with two-factor authentication on, when
    WEB_OWNER_MFA_REQUIRED says so (production). Says why on the page when not."""
    if not settings.WEB_OWNER_MFA_REQUIRED or is_mfa_enabled(request.user):
        return True
    messages.error(
        request,
        "Turn on two-factor authentication (Account → Two-factor authentication) before changing "
        "prices or payout settings.",
    )
    return False
