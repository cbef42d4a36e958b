"""A takedown in Chromium: someone without an account reports a dataset from its public page
(a refused form first, then filed), staff accept the notice, and the dataset's URL shows the
tombstone (410)."""

from django.core import mail
from playwright.sync_api import Page, expect

from marketplace.models import TakedownNotice
from marketplace.services.takedowns import takedown_notice_accept
from tests.catalogue_helpers import publish_dataset
from tests.e2e.browser import assert_accessible, screenshot
from tests.factories import make_key, make_user


def test_report_a_dataset_and_see_its_tombstone(live_server, page: Page):
    secret, _key = make_key(uploads=True)
    _sid, version = publish_dataset(secret, name="Reported speech")
    dataset = version.dataset

    page.goto(f"{live_server.url}/datasets/{dataset.slug}")
    page.get_by_role("link", name="Report it (takedown notice)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Report a problem with “Reported speech”"
    )
    assert_accessible(page)
    page.get_by_label("Your name").fill("Ada Claimant")
    page.get_by_label("Contact e-mail").fill("ada@claimant.example")
    page.get_by_label("Personal data").check()
    page.get_by_label("Files concerned").fill("people/ada.wav")
    page.get_by_label("What is wrong").fill("My voice, recorded without my consent.")
    page.get_by_role("button", name="Send the notice").click()
    # The statement of good faith was not ticked: said next to it, the rest kept.
    expect(page.locator("#id_good_faith_error")).to_contain_text("required")
    expect(page.get_by_label("Your name")).to_have_value("Ada Claimant")
    assert not TakedownNotice.objects.exists()

    page.get_by_label("I state in good faith").check()
    page.get_by_role("button", name="Send the notice").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your notice was received")
    notice = TakedownNotice.objects.get()
    expect(page.locator("#notice-reference")).to_have_text(notice.reference)
    assert notice.basis == "personal_data" and notice.member_paths == ["people/ada.wav"]
    assert any(notice.reference in m.body for m in mail.outbox)

    reviewer = make_user(is_staff=True, groups=["reviewer"])
    takedown_notice_accept(notice=notice, actor=reviewer)

    response = page.goto(f"{live_server.url}/datasets/{dataset.slug}")
    assert response.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This dataset was removed")
    expect(page.locator("#tombstone")).to_contain_text("reason category: Personal data")
    assert_accessible(page)
    screenshot(page, "takedown-tombstone")
