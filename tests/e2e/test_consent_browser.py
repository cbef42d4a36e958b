"""Consent withdrawal in Chromium (issue 13 §2): a contributor withdraws consent from their
space (/me/contributions → the confirmation page → "Withdraw consent"), the provider's workspace
shows the obligation, and a licensee acknowledges the signed deletion manifest from the library.
Every page passes axe-core (no serious or critical violation)."""

import re

import pytest
from playwright.sync_api import Page, expect

from contributors.models import ConsentWithdrawal
from licensing.models import DeletionManifest
from tests.consent.helpers import ALICE, BOB, buy, claimed, corpus, shares
from tests.e2e.browser import assert_accessible
from tests.e2e.test_library_browser import sign_in
from tests.parties import party

ACTION_TIMEOUT_MS = 10_000

pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated:UserWarning")


@pytest.fixture(autouse=True)
def _fail_fast(context):
    context.set_default_timeout(ACTION_TIMEOUT_MS)


def test_withdraw_then_acknowledge_in_the_browser(live_server, page: Page):
    provider, buyer = party(uploads=True), party()
    c = corpus(provider, "Two voices")
    shares(
        provider,
        c.dataset,
        [
            {"organization": True, "percent": "50"},
            {"email": ALICE, "percent": "30"},
            {"email": BOB, "percent": "20"},
        ],
    )
    response = provider.client.put(
        f"/api/datasets/{c.dataset.public_id}/member-mapping",
        {"mappings": [{"email": ALICE, "pathPrefix": "clips/alice/"}]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    alice = claimed(c.dataset, ALICE)
    buy(buyer, c.dataset)
    base = live_server.url

    # The contributor withdraws from their space, with a reason.
    sign_in(page, live_server, alice.user)
    page.goto(f"{base}/me/contributions")
    row = page.locator(f'tr[data-dataset="{c.dataset.public_id}"]')
    assert_accessible(page)
    row.get_by_role("link", name="Withdraw consent for Two voices").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Withdraw your consent for Two voices"
    )
    assert_accessible(page)
    page.get_by_label("Reason (optional)").fill("I no longer agree")
    page.get_by_role("button", name="Withdraw consent").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your contributions")
    expect(page.get_by_role("main")).to_contain_text("You withdrew your consent for Two voices")
    expect(page.locator("#withdrawals")).to_contain_text("Two voices")
    expect(page.locator(f'#shares tr[data-dataset="{c.dataset.public_id}"]')).to_have_count(0)
    assert_accessible(page)
    withdrawal = ConsentWithdrawal.objects.get()
    assert withdrawal.reason == "I no longer agree" and withdrawal.source == "contributor"
    assert withdrawal.members.count() == 2

    # The provider's workspace shows the obligation and the licensee yet to acknowledge.
    page.context.clear_cookies()
    sign_in(page, live_server, provider.user)
    page.goto(f"{base}/organization/datasets/{c.dataset.public_id}")
    obligations = page.locator("#consent-obligations")
    expect(obligations).to_contain_text("1 consent withdrawal to handle")
    expect(obligations).to_contain_text("1 deletion manifest not acknowledged")
    obligations.get_by_role("link", name=re.compile("Member mapping")).click()
    expect(page.locator(f'tr[data-withdrawal="{withdrawal.public_id}"]')).to_contain_text(
        "not acknowledged"
    )
    assert_accessible(page)

    # The licensee acknowledges the manifest from the library.
    page.context.clear_cookies()
    sign_in(page, live_server, buyer.user)
    page.goto(f"{base}/library")
    page.get_by_role("link", name="Deletion manifests").click()
    manifest = DeletionManifest.objects.get()
    article = page.locator(f"#manifest-{manifest.public_id}")
    expect(article.locator("[data-ack]")).to_have_text("Not acknowledged")
    expect(article).to_contain_text("clips/alice/a1.wav")
    assert_accessible(page)
    article.get_by_role("button", name="Acknowledge the deletion manifest of Two voices").click()
    expect(page.get_by_role("main")).to_contain_text("Acknowledged: the members of Two voices")
    expect(page.locator(f"#manifest-{manifest.public_id} [data-ack]")).to_contain_text(
        "Acknowledged on"
    )
    manifest.refresh_from_db()
    assert manifest.acknowledged_at is not None and manifest.acknowledged_by == buyer.user
