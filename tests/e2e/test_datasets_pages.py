"""The provider workspace in Chromium: the datasets list, a dataset as buyers see it, and the
access-requests inbox where the owner rejects one request with a reason (after trying without
one) and approves another, each swapped in place by htmx. Every page passes axe-core; the
screenshots `datasets`, `dataset-detail` and `access-requests` go to docs/screenshots.

The state is built the production way: datasets published through the API and the review
service, requests asked through the API by three buyer organisations."""

import re

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from playwright.sync_api import Page, expect

from licensing.models import AccessRequest
from tests.e2e.browser import assert_accessible, screenshot
from tests.licensing.conftest import publish
from tests.parties import Party, party

ACTION_TIMEOUT_MS = 10_000
SDK_UA = "datacollective-python/0.7.0 (Python 3.11.7; Linux) source function: download_dataset"


@pytest.fixture(autouse=True)
def _fail_fast(context):
    context.set_default_timeout(ACTION_TIMEOUT_MS)


def sign_in(page: Page, base: str, user) -> None:
    """The browser gets the session cookie of a test client that logged `user` in."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}]
    )


def ask(who: Party, dataset, *, name: str, use: str) -> AccessRequest:
    response = who.client.post(
        f"/api/datasets/{dataset.public_id}/access-requests",
        {"name": name, "organizationName": who.org.name, "intendedUse": use},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return AccessRequest.objects.get(public_id=response.json()["id"])


def card(page: Page, request: AccessRequest):
    return page.locator(f"#ar-{request.public_id}")


def test_provider_reviews_datasets_and_decides_access_requests(live_server, page: Page):
    base = live_server.url
    provider = party(uploads=True)
    clinic = publish(
        provider,
        "Clinic dialogues",
        visibility="restricted",
        shortDescription="Doctor and patient consultations in Welsh",
        longDescription="Two hundred hours of consented consultations, transcribed.",
        restrictions="Non-commercial research only.",
    )
    publish(provider, "Paid read speech", isPaid=True, basePriceCents=2_500)
    provider.client.post(f"/api/datasets/{clinic.public_id}/download", HTTP_USER_AGENT=SDK_UA)
    vague_buyer, good_buyer, later_buyer = party(), party(), party()
    vague = ask(vague_buyer, clinic, name="Vic Vague", use="Stuff.")
    good = ask(good_buyer, clinic, name="Ada Lovelace", use="Evaluating our Welsh ASR model.")
    ask(later_buyer, clinic, name="Lee Later", use="Training a triage assistant.")
    mail.outbox.clear()
    sign_in(page, base, provider.user)

    # The list: every published dataset with its counts.
    page.goto(f"{base}/organization/datasets")
    expect(page.get_by_role("heading", level=1)).to_have_text("Datasets")
    clinic_row = page.get_by_role("row").filter(has_text="Clinic dialogues")
    expect(clinic_row).to_contain_text("Restricted")
    expect(clinic_row.locator("td.number")).to_have_text(["3 pending for Clinic dialogues", "1"])
    paid_row = page.get_by_role("row").filter(has_text="Paid read speech")
    expect(paid_row).to_contain_text("26.25 USD (base 25.00)")
    assert_accessible(page)
    screenshot(page, "datasets")

    # The dataset as buyers see it.
    page.get_by_role("link", name="Clinic dialogues", exact=True).click()
    expect(page).to_have_url(f"{base}/organization/datasets/{clinic.public_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinic dialogues")
    flags = page.locator("table.flags")
    expect(flags.get_by_role("row").filter(has_text="Commercial use")).to_contain_text(
        "not allowed"
    )
    expect(page.get_by_role("link", name="The public terms page")).to_have_attribute(
        "href", f"/datasets/{clinic.public_id}/terms"
    )
    downloads = page.get_by_role("region", name="Downloads")
    expect(downloads).to_contain_text("Python SDK (download_dataset)")
    expect(page.get_by_label("Approve access requests automatically")).not_to_be_checked()
    assert_accessible(page)
    screenshot(page, "dataset-detail")

    # The inbox: pending requests first.
    page.get_by_role("link", name=re.compile(r"^3 requests pending")).click()
    expect(page).to_have_url(f"{base}/organization/access-requests?status=pending")
    expect(page.get_by_role("heading", level=1)).to_have_text("Access requests")
    expect(page.locator("article.access-request")).to_have_count(3)
    assert_accessible(page)

    # Reject without a reason: the service's error appears next to the field, nothing changes.
    vague_card = card(page, vague)
    vague_card.get_by_role("button", name=re.compile("^Reject")).click()
    error = vague_card.locator(".field-error")
    expect(error).to_contain_text("needs a reason")
    reason = vague_card.get_by_label("Reason")
    expect(reason).to_have_attribute("aria-invalid", "true")
    assert AccessRequest.objects.get(pk=vague.pk).status == "pending"

    reason.fill("Please describe the research and who will use the data.")
    vague_card.get_by_role("button", name=re.compile("^Reject")).click()
    expect(vague_card.get_by_role("status")).to_contain_text("Rejected:")
    expect(vague_card.locator(".status")).to_have_text("Rejected")
    expect(vague_card).to_contain_text("Please describe the research")

    good_card = card(page, good)
    good_card.get_by_role("button", name=re.compile("^Approve")).click()
    expect(good_card.get_by_role("status")).to_contain_text("Approved:")
    expect(good_card.locator(".status")).to_have_text("Approved")
    assert AccessRequest.objects.get(pk=vague.pk).status == "rejected"
    assert AccessRequest.objects.get(pk=good.pk).status == "approved"
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [vague_buyer.user.email, good_buyer.user.email]
    )
    assert_accessible(page)

    # The tabs are links: htmx swaps the list and the address follows.
    page.get_by_role("navigation", name="Status").get_by_role("link", name="All (3)").click()
    expect(page).to_have_url(f"{base}/organization/access-requests?direction=received&status=all")
    expect(page.locator("article.access-request")).to_have_count(3)
    expect(card(page, good).locator(".status")).to_have_text("Approved")
    assert_accessible(page)
    screenshot(page, "access-requests")

    # What the requester sees: its sent request, read only, with the reason.
    sign_in(page, base, vague_buyer.user)
    page.goto(f"{base}/organization/access-requests?direction=sent")
    sent = card(page, vague)
    expect(sent).to_contain_text("Please describe the research")
    expect(sent.get_by_role("button")).to_have_count(0)
    assert_accessible(page)
