"""Web pages a contributor reaches from e-mails and from Stripe onboarding."""

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from contributors.services import contributor_claim
from marketplace.services.errors import ServiceError

# The token of an invitation opened before signing in waits here (never in a URL).
PENDING_CLAIM_SESSION_KEY = "contributor_claim_token"
TOKEN_MAX = 200


def _claim_context(request, token: str = "") -> dict:
    return {
        "title": "Claim your revenue share",
        "confirm": True,
        "token": token,
        "text": "You were named as a contributor of a dataset. Claiming links your account to "
        "your share of its revenue, including what has accrued so far. The invitation works for "
        "an account that has verified the e-mail address it was sent to.",
    }


@never_cache
@require_http_methods(["GET", "POST"])
def claim_page(request):
    """The invitation link (`/contributors/claim#token=...`): the page's script moves the token
    from the fragment into the form (or the person types the code from the e-mail); the form
    POSTs it. Signed out, the token waits in the session while they sign in or sign up."""
    if request.method == "GET":
        token = request.session.get(PENDING_CLAIM_SESSION_KEY, "")
        context = _claim_context(request, token if request.user.is_authenticated else "")
        return _claim_render(request, context)
    token = (request.POST.get("token") or "").strip()[:TOKEN_MAX]
    if not request.user.is_authenticated:
        if token:
            request.session[PENDING_CLAIM_SESSION_KEY] = token
        return redirect_to_login(reverse("contributors_web:claim"))
    context = _claim_context(request, token)
    status = 200
    try:
        contributor = contributor_claim(token=token, user=request.user)
    except ServiceError as exc:
        context.update(error=exc.message, confirm=exc.status_code == 403)
        status = exc.status_code
    else:
        request.session.pop(PENDING_CLAIM_SESSION_KEY, None)
        context.update(
            done=f"Done: {contributor.email} is now linked to your account.",
            confirm=False,
            link_url=reverse("web:contributions"),
            link_text="See your datasets and earnings, and connect a payout account",
        )
    return _claim_render(request, context, status=status)


def _claim_render(request, context, *, status=200):
    response = render(request, "contributors/claim.html", context, status=status)
    # Nothing of this page goes to another site as a Referer ("no-referrer" would make Chromium
    # send `Origin: null` with the form, which CSRF protection rightly refuses).
    response["Referrer-Policy"] = "same-origin"
    return response


@never_cache
@require_GET
def claim_page_legacy(request, token: str):
    """Links e-mailed before the token moved out of the path: the token goes into the session
    (never into another URL) and the person lands on the claim form."""
    request.session[PENDING_CLAIM_SESSION_KEY] = token.strip()[:TOKEN_MAX]
    response = redirect("contributors_web:claim")
    response["Referrer-Policy"] = "same-origin"
    return response


def _money_page(request) -> tuple[str, str]:
    """Where the payee whose onboarding this is sees its payout account: the contributor's own
    page, or the organisation's money page."""
    if request.resolver_match.url_name.startswith("me-"):
        return reverse("web:contributions"), "Back to your contributions"
    return reverse("web:money"), "Back to Money"


def onboarding_return(request):
    url, text = _money_page(request)
    return render(
        request,
        "contributors/page.html",
        {
            "title": "Payout account",
            "text": "Thank you. Stripe is reviewing your details; payouts start as soon as Stripe "
            "enables them. The payout account's status is on the page linked below.",
            "link_url": url,
            "link_text": text,
        },
    )


def onboarding_refresh(request):
    url, text = _money_page(request)
    return render(
        request,
        "contributors/page.html",
        {
            "title": "Payout account",
            "text": "This onboarding link has expired (Stripe's links work once, for a few "
            "minutes). Press “Continue onboarding” on the page linked below for a new one.",
            "link_url": url,
            "link_text": text,
        },
    )
