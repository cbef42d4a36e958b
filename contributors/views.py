"""Web pages a contributor reaches from e-mails and from Stripe onboarding."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from contributors.services import contributor_claim
from marketplace.services.errors import ServiceError


@login_required
@require_http_methods(["GET", "POST"])
def claim_page(request, token: str):
    """The invitation link: the signed-in user confirms, and becomes the contributor (their
    earnings accrued meanwhile are already on the contributor's payee)."""
    context = {
        "title": "Claim your revenue share",
        "confirm": True,
        "text": "You were named as a contributor of a dataset. Claiming links your account to "
        "your share of its revenue, including what has accrued so far.",
    }
    status = 200
    if request.method == "POST":
        try:
            contributor = contributor_claim(token=token, user=request.user)
        except ServiceError as exc:
            context.update(error=exc.message, confirm=False)
            status = exc.status_code
        else:
            context.update(
                done=f"Done: {contributor.email} is now linked to your account.",
                confirm=False,
                link_url=reverse("web:contributions"),
                link_text="See your datasets and earnings, and connect a payout account",
            )
    return render(request, "contributors/page.html", context, status=status)


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
