"""The contributor's own space: for a signed-in person who claimed a contributor profile, the
datasets they share in with their current share, their earnings (GET /api/earnings'
`contributor`), the chart by month, their payout lines, statements and their own payout
account. It needs no organisation: a contributor may belong to none."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from contributors.selectors import (
    contributor_of_user,
    payee_current_shares,
    payout_account_of_contributor,
)
from contributors.services.payout_accounts import contributor_payout_account_start
from marketplace.actors import Actor
from marketplace.services.errors import NotFound, ServiceError
from payouts.selectors import payees_of_user
from web.money_forms import PayoutAccountForm
from web.views.money import payee_money, statement_download


def _contributor_payee(request):
    return payees_of_user(user=request.user, organization=None)["contributor"]


def _page(request, *, statement_form=None, account_form=None, status=200):
    try:
        contributor = contributor_of_user(request.user)
    except NotFound:
        return render(request, "web/money/no_contributor.html", status=200)
    payee = _contributor_payee(request)
    context = {
        "contributor": contributor,
        "shares": payee_current_shares(payee) if payee is not None else [],
        "account": payout_account_of_contributor(contributor),
        "account_form": account_form or PayoutAccountForm(),
        "statement_url": reverse("web:contributions_statement"),
        **payee_money(request, payee, statement_form=statement_form),
    }
    return render(request, "web/money/contributor.html", context, status=status)


@login_required
@require_GET
def contributions_page(request):
    return _page(request)


@login_required
@require_POST
def contributions_payout_account(request):
    """The person's own Stripe account (created once), then off to Stripe's onboarding. They act
    for themselves, not for an organisation they may also belong to."""
    form = PayoutAccountForm(request.POST)
    if not form.is_valid():
        return _page(request, account_form=form, status=400)
    try:
        onboarding = contributor_payout_account_start(
            actor=Actor.person(request.user),
            contributor=contributor_of_user(request.user),
            country=form.cleaned_data["country"],
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("web:contributions")
    return redirect(onboarding.url)


@login_required
@require_GET
def contributions_statement(request):
    try:
        contributor_of_user(request.user)
    except NotFound:
        return redirect("web:contributions")
    return statement_download(
        request, _contributor_payee(request), prefix="statement-contributor", page=_page
    )
