"""The dataset page's "Get access" panel in Chromium: a free public dataset (accept the terms →
download), and a restricted one (request access → the provider approves it in their workspace →
the buyer's page shows it approved → terms → download). Accessible at every step."""

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import Page, expect

from licensing.models import AccessRequest, DownloadSession, TermsAcceptance
from tests.e2e.browser import assert_accessible
from tests.licensing.conftest import publish
from tests.parties import party

ACTION_TIMEOUT_MS = 15_000


@pytest.fixture(autouse=True)
def _fail_fast(context):
    context.set_default_timeout(ACTION_TIMEOUT_MS)


def sign_in(page: Page, base: str, user) -> None:
    """The browser gets the session cookie of a test client that logged `user` in."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}]
    )


def get_access(page: Page):
    return page.get_by_role("region", name="Get access")


def accept_and_download(page: Page, dataset) -> None:
    panel = get_access(page)
    panel.get_by_label(re.compile("I have read these terms")).check()
    panel.get_by_role("button", name="Accept the terms").click()
    expect(page.get_by_role("region", name="Messages")).to_contain_text("accepted the terms")
    panel = get_access(page)
    expect(panel).to_contain_text("accepted")
    assert_accessible(page)
    with page.expect_download() as info:
        panel.get_by_role("button", name="Download the dataset").click()
    assert info.value.suggested_filename == dataset.latest_version.filename


def test_free_dataset_accept_terms_then_download(live_server, page: Page):
    base = live_server.url
    provider, buyer = party(uploads=True), party()
    dataset = publish(provider, "Free Cornish speech")
    sign_in(page, base, buyer.user)
    page.goto(f"{base}/datasets/{dataset.slug}")
    panel = get_access(page)
    expect(panel).to_contain_text("Free")
    expect(panel).to_contain_text("not accepted yet")
    assert_accessible(page)
    accept_and_download(page, dataset)
    assert TermsAcceptance.objects.filter(organization=buyer.org, dataset=dataset).count() == 1
    session = DownloadSession.objects.get(organization=buyer.org, dataset=dataset)
    assert session.basis == "free"


def test_restricted_request_access_approved_in_the_workspace_then_download(live_server, page: Page):
    base = live_server.url
    provider, buyer = party(uploads=True), party()
    dataset = publish(provider, "Clinic consultations", visibility="restricted")
    sign_in(page, base, buyer.user)
    page.goto(f"{base}/datasets/{dataset.slug}")
    panel = get_access(page)
    expect(panel).to_contain_text("not requested")
    assert_accessible(page)
    panel.get_by_label("Your name").fill("Ada Lovelace")
    panel.get_by_label("Intended use").fill("Evaluating our Cornish ASR model.")
    panel.get_by_role("button", name="Request access").click()
    expect(get_access(page)).to_contain_text("pending")
    assert_accessible(page)
    found = AccessRequest.objects.get(organization=buyer.org, dataset=dataset)
    assert found.status == "pending" and found.organization_name == buyer.org.name
    assert found.intended_use == "Evaluating our Cornish ASR model."

    # The provider approves it in their workspace.
    sign_in(page, base, provider.user)
    page.goto(f"{base}/organization/access-requests")
    request_card = page.locator(f"#ar-{found.public_id}")
    request_card.get_by_role("button", name=re.compile("^Approve")).click()
    expect(request_card.locator(".status")).to_have_text("Approved")

    # The buyer's page shows it approved, and the rest of the way is open.
    sign_in(page, base, buyer.user)
    page.goto(f"{base}/datasets/{dataset.slug}")
    expect(get_access(page).locator("li").first).to_contain_text("approved")
    assert_accessible(page)
    accept_and_download(page, dataset)
    assert DownloadSession.objects.filter(organization=buyer.org, dataset=dataset).exists()
