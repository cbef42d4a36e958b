"""The browser-test machinery works end to end: Chromium loads a page of the live server with its
static files, axe-core runs in it, and a screenshot is written for the documentation."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import assert_accessible, axe_violations, screenshot


def test_admin_login_page_in_chromium(live_server, page: Page):
    # The admin's own login form is never shown: /admin/login/ goes through the site's sign-in
    # (rate limits, lockout and two-factor; security finding 5), then back to the admin.
    response = page.goto(f"{live_server.url}/admin/login/")

    assert response is not None and response.status == 200
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/admin/$"))
    expect(page.get_by_label("Password")).to_be_visible()
    # The site's stylesheet came through the live server's static files handler.
    assert page.evaluate("() => document.styleSheets[0].cssRules.length") > 0

    path = screenshot(page, "admin-login")
    assert path.read_bytes().startswith(b"\x89PNG")

    violations = axe_violations(page)
    assert isinstance(violations, list)
    print(f"axe-core: {len(violations)} serious/critical violation(s) on the sign-in page")


def test_assert_accessible_names_each_violation(page: Page):
    """The check the web pages' tests rely on finds real problems and says where they are."""
    page.set_content(
        '<!doctype html><html lang="en"><head><title>Upload</title></head><body><main>'
        '<h1>Upload</h1><img src="data:,"><input id="archive" type="file"></main></body></html>'
    )

    with pytest.raises(AssertionError) as failure:
        assert_accessible(page)

    message = str(failure.value)
    assert "[critical] image-alt" in message and "- img" in message
    assert "[critical] label" in message and "- #archive" in message

    page.set_content(
        '<!doctype html><html lang="en"><head><title>Upload</title></head><body><main>'
        '<h1>Upload</h1><img src="data:," alt="">'
        '<label for="archive">Archive</label><input id="archive" type="file"></main></body></html>'
    )
    assert_accessible(page)
