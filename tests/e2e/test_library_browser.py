"""The licensee's library and the public certificate check in Chromium. A paid dataset bought
through the orders API, paid on the Stripe emulator and confirmed by the webhook: the library
lists the grant, its certificate page shows the claims, its verify button says genuine and
active, the download button hands over the archive; /verify says a tampered certificate is not
genuine and shows a readable error for junk; after a full refund through the emulator the
library shows the grant refunded and revoked and refuses the download with the reason. Every
page passes axe-core (no serious or critical violation)."""

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import Page, expect

from marketplace.payments import stripe_client
from tests.e2e.browser import assert_accessible, screenshot
from tests.licensing.conftest import publish
from tests.licensing.test_library_pages import _tampered, bought
from tests.licensing.test_orders import PRICE, deliver_committed
from tests.parties import party

ACTION_TIMEOUT_MS = 10_000


@pytest.fixture(autouse=True)
def _fail_fast(context):
    context.set_default_timeout(ACTION_TIMEOUT_MS)


def sign_in(page: Page, live_server, user) -> None:
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


def test_library_certificate_verify_download_and_refund(live_server, page: Page):
    provider, buyer = party(uploads=True), party()
    dataset = publish(
        provider, "Swahili conversations", isPaid=True, basePriceCents=PRICE, currency="usd"
    )
    order, charge, grant = bought(buyer, dataset)
    base = live_server.url
    sign_in(page, live_server, buyer.user)

    # The library, from the nav link.
    page.goto(f"{base}/dashboard")
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Library").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Library")
    entry = page.locator(f"#grant-{grant.public_id}")
    expect(entry.get_by_role("heading", name="Swahili conversations")).to_be_visible()
    expect(entry.locator("[data-grant-status]")).to_have_text("Active")
    expect(entry).to_contain_text(grant.terms_hash)
    expect(entry).to_contain_text("26.25 USD")
    assert_accessible(page)
    screenshot(page, "library")

    # Download: the button's download session redirects to the archive's presigned URL.
    with page.expect_download() as download_info:
        entry.get_by_role("button", name=re.compile("^Download version 1 of")).click()
    download = download_info.value
    assert download.suggested_filename == dataset.latest_version.filename

    # The certificate page, then its verify button.
    entry.get_by_role("link", name="View and verify the certificate").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "License certificate: Swahili conversations"
    )
    expect(page.get_by_role("main")).to_contain_text(buyer.org.name)
    assert_accessible(page)
    token = page.locator("#certificate-token").inner_text().strip()
    page.get_by_role("button", name="Verify this certificate").click()
    expect(page).to_have_url(f"{base}/verify")
    result = page.locator("#verification-result")
    expect(result).to_contain_text("Genuine")
    expect(result).to_contain_text("Active: the grant is in force.")
    expect(result).to_contain_text("Swahili conversations")
    expect(result).to_contain_text(grant.terms_hash)
    assert_accessible(page)

    # /verify for anyone (a new, signed-out browser context): tampered, then junk.
    anonymous = page.context.browser.new_page()
    anonymous.set_default_timeout(ACTION_TIMEOUT_MS)
    anonymous.goto(f"{base}/verify")
    assert_accessible(anonymous)
    field = anonymous.get_by_label("License certificate (compact JWS)")
    field.fill(_tampered(token))
    anonymous.get_by_role("button", name="Verify", exact=True).click()
    expect(anonymous.locator("#verification-result")).to_contain_text("Not genuine")
    assert_accessible(anonymous)
    screenshot(anonymous, "verify-not-genuine")
    anonymous.get_by_label("License certificate (compact JWS)").fill("not a certificate")
    anonymous.get_by_role("button", name="Verify", exact=True).click()
    expect(anonymous.locator("#certificate-errors")).to_contain_text(
        "This is not a license certificate"
    )
    expect(anonymous.get_by_label("License certificate (compact JWS)")).to_have_value(
        "not a certificate"
    )
    assert_accessible(anonymous)
    anonymous.close()

    # A full refund through the emulator; the webhook revokes the grant.
    stripe_client().refunds.create(
        params={"payment_intent": order["paymentIntentId"], "amount": order["totalPriceCents"]}
    )
    deliver_committed("charge.refunded", charge)
    page.goto(f"{base}/library")
    entry = page.locator(f"#grant-{grant.public_id}")
    expect(entry.locator("[data-grant-status]")).to_have_text("Revoked")
    expect(entry).to_contain_text("Refunded")
    entry.get_by_role("button", name=re.compile("^Download version 1 of")).click()
    expect(page.get_by_role("region", name="Messages")).to_contain_text(
        "Swahili conversations: This grant was revoked on"
    )
    expect(page.get_by_role("region", name="Messages")).to_contain_text("order fully refunded")
    assert_accessible(page)
    page.get_by_role("link", name=f"Receipt {order['id']}").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Receipt {order['id']}")
    expect(page.get_by_role("main")).to_contain_text(order["paymentIntentId"])
    assert_accessible(page)

    # The public check now says revoked.
    page.goto(f"{base}/verify")
    page.get_by_label("License certificate (compact JWS)").fill(token)
    page.get_by_role("button", name="Verify", exact=True).click()
    result = page.locator("#verification-result")
    expect(result).to_contain_text("Genuine")
    expect(result).to_contain_text("Revoked")
    expect(result).not_to_contain_text("the grant is in force")
