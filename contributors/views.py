"""Web pages a contributor reaches from e-mails and from Stripe onboarding."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
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
                done=f"Done: {contributor.email} is now linked to your account. Connect a payout "
                "account with POST /api/contributors/me/payout-account.",
                confirm=False,
            )
    return render(request, "contributors/page.html", context, status=status)


def onboarding_return(request):
    return render(
        request,
        "contributors/page.html",
        {
            "title": "Payout account",
            "text": "Thank you. Stripe is reviewing your details; payouts start as soon as Stripe "
            "enables them (GET /api/payout-account shows the status).",
        },
    )


def onboarding_refresh(request):
    return render(
        request,
        "contributors/page.html",
        {
            "title": "Payout account",
            "text": "This onboarding link has expired. Ask for a new one with POST /api/payout-account "
            "(or /api/contributors/me/payout-account).",
        },
    )
