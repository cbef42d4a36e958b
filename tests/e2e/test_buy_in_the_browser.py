"""Paying in the browser, in Chromium, with the emulator's Stripe.js stand-in (Payment Element +
confirmPayment): accept the terms → a double click on "Buy" makes one order and one
PaymentIntent → a declined card shows Stripe's message and leaves no grant → a good card → the
page turns paid only when Stripe's webhook reaches us → receipt → download. Accessible."""

import re

import pytest
import requests
from django.conf import settings as django_settings
from playwright.sync_api import Page, expect

from licensing.models import DownloadSession, Grant, Order
from marketplace.payments import stripe_client
from tests.e2e.browser import assert_accessible
from tests.e2e.test_get_access_browser import get_access, sign_in
from tests.licensing.conftest import publish
from tests.parties import party
from tests.webhooks import stripe_event, stripe_signature

PRICE = 2500
ACTION_TIMEOUT_MS = 15_000


@pytest.fixture(autouse=True)
def _fail_fast(context):
    context.set_default_timeout(ACTION_TIMEOUT_MS)


@pytest.fixture
def stripe_js(settings, stripe_emulator_url):
    """The order page loads the emulator's Stripe.js stand-in (where STRIPE_JS_URL points in
    development; the test session's emulator listens on its own port). No webhook endpoint is
    registered at the emulator: the test delivers the payment's webhook itself, so the page can
    be seen pending after Stripe.js succeeded."""
    requests.delete(f"{stripe_emulator_url}/_emulator/webhooks", timeout=10).raise_for_status()
    settings.STRIPE_JS_URL = f"{stripe_emulator_url}/js.stripe.com/v3/"
    return settings.STRIPE_JS_URL


def pay_with(page: Page, number: str) -> None:
    form = page.locator("#payment-form")
    form.get_by_label("Card number").fill(number)
    form.get_by_label("Expiry (MM / YY)").fill("12 / 34")
    form.get_by_label("CVC").fill("123")
    form.get_by_role("button", name=re.compile("Pay")).click()


def intents_of(order: Order) -> list:
    listed = stripe_client().payment_intents.list(params={"limit": 100})
    return [pi for pi in listed.data if (pi.metadata or {}).get("order_id") == order.public_id]


def test_pay_in_the_browser_declined_then_paid_by_the_webhook(live_server, page: Page, stripe_js):
    base = live_server.url
    provider, buyer = party(uploads=True), party()
    dataset = publish(provider, "Paid Manx speech", isPaid=True, basePriceCents=PRICE)
    sign_in(page, base, buyer.user)
    page.goto(f"{base}/datasets/{dataset.slug}")
    panel = get_access(page)
    expect(panel).to_contain_text("platform fee")
    panel.get_by_label(re.compile("I have read these terms")).check()
    panel.get_by_role("button", name="Accept the terms").click()
    buy = get_access(page).get_by_role("button", name=re.compile("^Buy for"))
    assert_accessible(page)

    # A double click on "Buy": one order, one PaymentIntent at Stripe.
    buy.dblclick()
    expect(page).to_have_url(re.compile(r"/orders/ord\w+$"))
    order = Order.objects.get(organization=buyer.org, dataset=dataset)
    assert page.url == f"{base}/orders/{order.public_id}"
    assert Order.objects.filter(organization=buyer.org).count() == 1
    assert [pi.id for pi in intents_of(order)] == [order.payment_intent_id]
    status = page.get_by_role("region", name=re.compile("^Status"))
    expect(status).to_contain_text("Pending")
    expect(page.get_by_label("Card number")).to_be_visible()
    assert_accessible(page)

    # A declined card: Stripe's message, the order stays payable, no grant.
    pay_with(page, "4000 0000 0000 0002")
    expect(page.locator("#payment-message")).to_have_text("Your card was declined.")
    expect(page.get_by_role("button", name=re.compile("^Try again"))).to_be_enabled()
    assert not Grant.objects.filter(organization=buyer.org).exists()
    assert Order.objects.get(pk=order.pk).status in ("pending", "failed")
    assert_accessible(page)

    # A good card: Stripe.js succeeds, but the page waits for the webhook.
    pay_with(page, "4242 4242 4242 4242")
    expect(page.locator("#payment-message")).to_contain_text("Waiting for Stripe")
    assert stripe_client().payment_intents.retrieve(order.payment_intent_id).status == "succeeded"
    expect(status).to_contain_text("Pending")
    assert Order.objects.get(pk=order.pk).status == "pending"
    assert not Grant.objects.filter(organization=buyer.org).exists()

    payload = stripe_event(
        "payment_intent.succeeded", id=order.payment_intent_id, object="payment_intent"
    )
    response = requests.post(
        f"{base}/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": stripe_signature(payload), "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200
    expect(status).to_contain_text("Paid", timeout=30_000)
    order.refresh_from_db()
    assert order.status == "paid"
    receipt = page.locator("dl.receipt")
    expect(receipt).to_contain_text(order.public_id)
    expect(receipt).to_contain_text(order.charge_id)
    expect(receipt.locator(f'data[value="{order.total_price_cents}"]')).to_have_count(1)
    assert [pi.id for pi in intents_of(order)] == [order.payment_intent_id]
    assert_accessible(page)

    # The grant is there: the dataset page downloads.
    page.get_by_role("link", name="Download it from the dataset page").click()
    panel = get_access(page)
    expect(panel).to_contain_text("paid")
    with page.expect_download() as info:
        panel.get_by_role("button", name="Download the dataset").click()
    assert info.value.suggested_filename == dataset.latest_version.filename
    assert DownloadSession.objects.get(organization=buyer.org).basis == "grant"


def test_another_organisations_order_page_is_404(live_server, page: Page, stripe_js):
    base = live_server.url
    provider, buyer, other = party(uploads=True), party(), party()
    dataset = publish(provider, "Paid Gaulish", isPaid=True, basePriceCents=PRICE)
    sign_in(page, base, buyer.user)
    page.goto(f"{base}/datasets/{dataset.slug}")
    get_access(page).get_by_label(re.compile("I have read these terms")).check()
    get_access(page).get_by_role("button", name="Accept the terms").click()
    get_access(page).get_by_role("button", name=re.compile("^Buy for")).click()
    expect(page).to_have_url(re.compile(r"/orders/ord\w+$"))
    order_url = page.url
    sign_in(page, base, other.user)
    for url in (order_url, f"{order_url}/status"):
        assert page.goto(url).status == 404
    assert stripe_js == django_settings.STRIPE_JS_URL
