"""The money pages in Chromium: the organisation's (/organization/money) and the contributor's own
(/me/contributions). The ledger is built through the services (a paid dataset, revenue shares,
sales, a hold release, a payout run on the Stripe emulator); each page's balances, chart and
payout lines are read from the browser and compared with what the API answers to the same
session (GET /api/earnings, GET /api/payouts). A contributor connects a payout account through
the emulator's onboarding and comes back. Every page passes axe-core."""

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from playwright.sync_api import Page, expect

from contributors.models import Contributor
from contributors.services.invitations import contributor_claim, contributor_invite_send
from payouts.services import sale_post
from payouts.services.runs import payout_run_create, payout_run_execute
from tests.catalogue_helpers import publish_dataset
from tests.e2e.browser import assert_accessible, screenshot
from tests.factories import make_org, make_user
from tests.parties import claim_token, party, verified_address
from tests.payouts.conftest import payee_of, set_shares
from tests.payouts.test_payout_runs import enable_payouts, sell_and_release

ACTION_TIMEOUT_MS = 10_000


@pytest.fixture(autouse=True)
def _fail_fast(context):
    context.set_default_timeout(ACTION_TIMEOUT_MS)


def sign_in(page: Page, live_server, user) -> None:
    """The browser gets the session cookie of a Django test client that logged `user` in."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def claim(email: str, user) -> None:
    contributor = Contributor.objects.get(email=email)
    mail.outbox.clear()
    assert contributor_invite_send(contributor_id=contributor.pk)
    [message] = mail.outbox
    contributor_claim(token=claim_token(message.body), user=verified_address(user, email))


@pytest.fixture
def ledger(live_server, settings):
    """A provider's paid dataset shared 60 / 30 / 10 between the organisation, ana and ben; two
    sales released and paid out (ana and the organisation have payout accounts), three more
    still pending."""
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 100}
    settings.PUBLIC_BASE_URL = live_server.url  # Stripe's onboarding comes back here
    provider = party(uploads=True)
    _, version = publish_dataset(
        provider.secret, name="Welsh read speech", isPaid=True, basePriceCents=1250
    )
    table = set_shares(
        version,
        provider.user,
        [("org", "60"), ("ana@example.com", "30"), ("ben@example.com", "10")],
    )
    enable_payouts(payee_of(table, "org"))
    enable_payouts(payee_of(table, "ana@example.com"))
    sell_and_release(version, refs=["w1", "w2"], gross_cents=1250)
    payout_run_execute(run=payout_run_create(currency="usd"))
    for n in range(3):
        sale_post(
            order_ref=f"w-pending-{n}",
            dataset_version=version,
            gross_cents=1250,
            platform_fee_cents=0,
            currency="usd",
        )
    return provider, version


def page_amounts(page: Page, selector: str) -> dict[str, int]:
    """The exact amounts (`<data value>`) in the cells of one table row, by field."""
    return page.locator(selector).evaluate(
        """(row) => Object.fromEntries([...row.querySelectorAll("[data-field] data")]
            .map((d) => [d.parentElement.dataset.field, Number(d.value)]))"""
    )


def check_against_api(page: Page, base: str, role: str) -> dict:
    """The balances, datasets, payout lines and chart on the page equal the API's answer to
    this browser's session."""
    earnings = page.request.get(f"{base}/api/earnings").json()[role]
    payouts = page.request.get(f"{base}/api/payouts").json()
    for row in earnings["currencies"]:
        shown = page_amounts(page, f'#balances tr[data-currency="{row["currency"]}"]')
        assert shown == {k: v for k, v in row.items() if k != "currency"}
    for row in earnings["datasets"]:
        shown = page_amounts(page, f'#by-dataset tr[data-dataset="{row["datasetId"]}"]')
        assert shown == {"earnedMicros": row["earnedMicros"], "pendingMicros": row["pendingMicros"]}
    lines = [i for i in payouts["items"] if i["payeeKind"] == role]
    assert lines
    for line in lines:
        row = page.locator(f'#payout-lines tr[data-line="{line["id"]}"]')
        assert page_amounts(page, f'#payout-lines tr[data-line="{line["id"]}"]') == {
            "amountCents": line["amountCents"]
        }
        expect(row.locator('[data-field="status"]')).to_contain_text(line["status"].capitalize())

    chart = page.get_by_role("img", name="Earnings by month, USD")
    expect(chart).to_be_visible()
    bars = chart.locator("rect.bar")
    expect(bars).to_have_count(12)
    values = [int(v) for v in bars.evaluate_all("(bars) => bars.map((b) => b.dataset.micros)")]
    earned = sum(r["earnedMicros"] for r in earnings["datasets"])
    assert values[-1] == earned and sum(values) == earned  # every sale of the test is today's
    table = page.get_by_role("table", name="Earnings by month, USD")
    table_values = table.locator("data").evaluate_all("(d) => d.map((x) => Number(x.value))")
    assert table_values == values
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100
    return earnings


def test_the_organisations_money_page(live_server, page: Page, ledger):
    provider, version = ledger
    base = live_server.url
    sign_in(page, live_server, provider.user)
    page.goto(f"{base}/organization/money")
    expect(page.get_by_role("heading", level=1)).to_have_text("Money")
    expect(page.get_by_role("region", name="Payout account")).to_contain_text(
        "Connected: payouts enabled"
    )
    earnings = check_against_api(page, base, "organization")
    assert earnings["currencies"][0]["paidCents"] == 1500  # 60 % of two sales of 12.50
    expect(page.locator("#balances")).to_contain_text("22.50")  # pending: 60 % of 3 × 12.50
    expect(page.locator("#by-dataset")).to_contain_text("Welsh read speech")
    expect(page.get_by_label("Currency")).to_have_value("usd")
    assert_accessible(page)
    screenshot(page, "money")

    # The statement of this period downloads as a CSV.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    assert download.value.suggested_filename.startswith(f"statement-{provider.org.slug}-usd-")
    body = download.value.path().read_text()
    assert body.splitlines()[0].startswith("sequence,created_at,kind")
    assert "payout_reserve" in body


def test_the_contributors_own_space(live_server, page: Page, ledger):
    provider, version = ledger
    base = live_server.url
    ana = make_user(email="ana@example.com")
    make_org(name="Ana's studio", owner=ana)  # her own organisation: the API answers her session
    claim("ana@example.com", ana)
    sign_in(page, live_server, ana)
    page.goto(f"{base}/me/contributions")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your contributions")
    shares = page.locator("#shares")
    expect(shares).to_contain_text("Welsh read speech")
    expect(shares).to_contain_text("30.00 %")
    check_against_api(page, base, "contributor")
    assert_accessible(page)
    screenshot(page, "contributor-space")

    # Ben belongs to no organisation; he connects his payout account through Stripe's
    # onboarding (the emulator's) and comes back to his page.
    page.context.clear_cookies()
    ben = make_user(email="ben@example.com")
    claim("ben@example.com", ben)
    sign_in(page, live_server, ben)
    page.goto(f"{base}/me/contributions")
    expect(page.get_by_text("Acting for")).to_have_count(0)
    expect(page.locator("#shares")).to_contain_text("10.00 %")
    expect(page.get_by_role("region", name="Payout account")).to_contain_text("Not connected")
    assert_accessible(page)
    page.get_by_role("button", name="Connect my payout account").click()
    expect(page).to_have_url(f"{base}/contributors/me/payout-account/return")
    expect(page.get_by_role("main")).to_contain_text("Stripe is reviewing your details")
    assert_accessible(page)
    page.get_by_role("link", name="Back to your contributions").click()
    expect(page).to_have_url(f"{base}/me/contributions")
    expect(page.get_by_role("button", name="Continue onboarding")).to_be_visible()

    # Someone with no profile is told how to get one.
    page.context.clear_cookies()
    sign_in(page, live_server, make_user())
    page.goto(f"{base}/me/contributions")
    expect(page.get_by_role("heading", name="How to claim one")).to_be_visible()
    assert_accessible(page)
