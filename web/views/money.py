"""The organisation's money page: its payout account (owners connect it on Stripe), its earnings
(pending, available, in payout and paid per currency and per dataset, and a chart by month),
its payout lines and a statement per period as CSV. Owners only see the money, as in the API:
the numbers come from the selectors GET /api/earnings and GET /api/payouts use.

The helpers below also serve the contributor's own page (web/views/contributor.py)."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from contributors.models import Payee
from contributors.selectors import payout_account_of_organization
from contributors.services.payout_accounts import organization_payout_account_start
from marketplace.pagination import PageQuerySerializer, paginate
from marketplace.services.errors import ServiceError
from payouts.exports import (
    STATEMENT_CSV_HEADERS,
    csv_response,
    statement_csv_rows,
    statement_proof_csv_rows,
)
from payouts.selectors import (
    payee_earnings,
    payee_earnings_by_month,
    payee_statement,
    payees_of_user,
    payout_lines_of_payees,
)
from payouts.services import payee_balances
from payouts.services.proofs import payee_proven_statements
from web.amounts import cents_text
from web.charts import monthly_bar_chart
from web.decorators import actor_required, money_settings_allowed
from web.money_forms import PayoutAccountForm, StatementForm

PAYOUT_LINES_PER_PAGE = 20
CHART_MONTHS = 12


# --- shared with the contributor's page -----------------------------------------------------------


def statement_currencies(payee: Payee | None) -> list[str]:
    """The currencies the payee has ledger accounts in (what a statement can be asked for)."""
    return list(payee_balances(payee_id=payee.pk)) if payee is not None else []


def _page_number(request) -> int:
    params = PageQuerySerializer(data={"page": request.GET.get("page", 1)})
    return params.validated_data["page"] if params.is_valid() else 1


def payee_money(request, payee: Payee | None, *, statement_form=None) -> dict:
    """What a money page shows of one payee (None: it never earned anything): earnings, the
    chart by month, a page of payout lines and the statement form. A constant number of
    queries, whatever the history."""
    earnings = payee_earnings(payee=payee) if payee is not None else None
    currencies = [c.currency for c in earnings.currencies] if earnings is not None else []
    if statement_form is None:
        statement_form = StatementForm(
            initial=StatementForm.initial_for(currencies=currencies, months=CHART_MONTHS),
            currencies=currencies,
        )
    context = {
        "earnings": earnings,
        "charts": [],
        "lines": None,
        "proven": [],
        "statement_form": statement_form,
        "refund_window_days": settings.REFUND_WINDOW_DAYS,
        "thresholds": [
            cents_text(cents, currency)
            for currency, cents in sorted(settings.PAYOUT_THRESHOLD_CENTS.items())
        ],
        "chart_months": CHART_MONTHS,
    }
    if payee is None:
        return context
    lines = paginate(
        payout_lines_of_payees(payee_ids=[payee.pk]),
        page=_page_number(request),
        limit=PAYOUT_LINES_PER_PAGE,
    )
    context.update(
        charts=[
            monthly_bar_chart(series)
            for series in payee_earnings_by_month(payee=payee, months=CHART_MONTHS)
        ],
        lines=lines,
        pages=max(1, -(-lines.total // lines.limit)),
        # Provable statements (issue 13 §4): the latest published months with their proofs.
        proven=payee_proven_statements(payee_id=payee.pk, limit=CHART_MONTHS),
    )
    return context


def statement_download(request, payee: Payee | None, *, prefix: str, page):
    """`?currency=&from=YYYY-MM&to=YYYY-MM` -> the statement CSV of that period (the admin's
    format); a bad request -> the page again (`page(request, statement_form=form)`, 400) with
    the reason next to the field."""
    form = StatementForm(request.GET, currencies=statement_currencies(payee))
    if payee is None or not form.is_valid():
        return page(request, statement_form=form, status=400)
    start, end = form.period()
    currency = form.cleaned_data["currency"]
    rows = payee_statement(payee=payee, currency=currency, limit=None, start=start, end=end)
    # Trailing section: each published month of the range with its leaf and inclusion proof.
    proven = payee_proven_statements(
        payee_id=payee.pk,
        currency=currency,
        first=f"{form.cleaned_data['from']:%Y-%m}",
        last=f"{form.cleaned_data['to']:%Y-%m}",
        limit=None,
    )
    return csv_response(
        form.filename(prefix),
        STATEMENT_CSV_HEADERS,
        statement_csv_rows(rows) + statement_proof_csv_rows(list(reversed(proven))),
    )


# --- the organisation's page ---------------------------------------------------------------------


def _organization_payee(request) -> Payee | None:
    """The acting organisation's payee, for its owners (None for members, as in the API)."""
    return payees_of_user(user=request.user, organization=request.actor.organization)[
        "organization"
    ]


def _organization_page(request, *, statement_form=None, account_form=None, status=200):
    actor = request.actor
    context = {
        "account": payout_account_of_organization(actor.organization),
        "account_form": account_form or PayoutAccountForm(),
        "statement_url": reverse("web:money_statement"),
    }
    if actor.is_owner:
        context.update(
            payee_money(request, _organization_payee(request), statement_form=statement_form)
        )
    return render(request, "web/money/organization.html", context, status=status)


@actor_required
@require_GET
def money_page(request):
    return _organization_page(request)


@actor_required
@require_POST
def money_payout_account(request):
    """Owners: create the organisation's Stripe account once, then off to Stripe's onboarding.
    A member, or Stripe down or refusing, gets the reason as a message and nothing changes."""
    actor = request.actor
    if actor.is_owner and not money_settings_allowed(request):
        return redirect("mfa_index")
    form = PayoutAccountForm(request.POST)
    if not form.is_valid():
        return _organization_page(request, account_form=form, status=400)
    try:
        onboarding = organization_payout_account_start(
            actor=actor, country=form.cleaned_data["country"]
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("web:money")
    return redirect(onboarding.url)


@actor_required
@require_GET
def money_statement(request):
    if not request.actor.is_owner:
        raise PermissionDenied("Only owners of the organisation see its statements.")
    return statement_download(
        request,
        _organization_payee(request),
        prefix=f"statement-{request.actor.organization.slug}",
        page=_organization_page,
    )
