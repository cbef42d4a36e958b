"""The compliance pack page (/library/compliance) in Chromium: reached from the library, it
shows each licensed dataset with the ingestion statistics, passes axe-core (no serious or
critical violation), and printed it drops the site's navigation, with no inline style (the
print styles are a static file, under the strict CSP)."""

import pytest
from playwright.sync_api import Page, expect

from licensing.models import Grant
from licensing.selectors import dataset_terms
from licensing.services.grants import grant_issue
from tests.e2e.browser import assert_accessible
from tests.e2e.test_library_browser import sign_in
from tests.licensing.conftest import publish
from tests.parties import party


@pytest.fixture(autouse=True)
def _fail_fast(context):
    context.set_default_timeout(10_000)


def test_compliance_page_from_the_library_accessible_and_printable(live_server, page: Page):
    provider, buyer = party(uploads=True), party()
    dataset = publish(provider, "Basque read speech", ethicalReviewProcess="Consent recorded.")
    grant_issue(
        organization=buyer.org,
        dataset=dataset,
        terms_hash=dataset_terms(dataset).hash,
        source=Grant.Source.STAFF,
        actor=None,
    )
    version = dataset.latest_version
    sign_in(page, live_server, buyer.user)

    page.goto(f"{live_server.url}/library")
    page.get_by_role("link", name="Training-data summary (EU AI Act)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Training-data summary")
    expect(page.locator("[data-template]")).to_contain_text("July 2025")
    entry = page.locator(f'[data-dataset-id="{dataset.public_id}"]')
    expect(entry.get_by_role("heading", name="Basque read speech")).to_be_visible()
    expect(entry.locator("[data-bytes]")).to_have_text(str(version.size_bytes))
    expect(entry.locator("[data-rows]")).to_have_text(str(version.statistics["total_rows"]))
    expect(entry).to_contain_text("Consent recorded.")
    assert_accessible(page)

    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(entry.get_by_role("heading", name="Basque read speech")).to_be_visible()
    assert page.locator("[style]").count() == 0
