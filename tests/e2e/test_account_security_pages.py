"""The password-reset and two-factor activation pages in the site's layout, accessible: a person
resets a forgotten password from the e-mailed link, and opens the TOTP activation page."""

import re

from playwright.sync_api import Page, expect

from tests.e2e.accounts import PASSWORD, link_in, only_mail, sign_up
from tests.e2e.browser import assert_accessible

NEW_PASSWORD = "another-long-and-unusual-passphrase-9"


def test_reset_a_forgotten_password_from_the_emailed_link(live_server, page: Page):
    base = live_server.url
    sign_up(page, base, "forgetful@example.org", check_pages=False)
    page.context.clear_cookies()

    page.goto(f"{base}/accounts/password/reset/")
    assert_accessible(page)
    page.get_by_role("main").get_by_label("Email").fill("forgetful@example.org")
    page.get_by_role("main").get_by_role("button", name=re.compile("Reset My Password")).click()
    expect(page).to_have_url(f"{base}/accounts/password/reset/done/")
    assert_accessible(page)

    message = only_mail(to="forgetful@example.org", subject="Password Reset")
    page.goto(base + link_in(message, "/accounts/password/reset/key/"))
    main = page.get_by_role("main")
    main.get_by_label("New Password", exact=True).fill(NEW_PASSWORD)
    main.get_by_label("New Password (again)").fill(NEW_PASSWORD)
    assert_accessible(page)
    main.get_by_role("button", name="Change Password").click()
    assert_accessible(page)

    page.goto(f"{base}/accounts/login/")
    main = page.get_by_role("main")
    main.get_by_label("Email").fill("forgetful@example.org")
    main.get_by_label("Password").fill(PASSWORD)
    main.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{base}/accounts/login/")  # the old password no longer works
    main.get_by_label("Password").fill(NEW_PASSWORD)
    main.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(base)}/(organizations/new|dashboard)$"))


def test_the_totp_activation_page_is_accessible(live_server, page: Page):
    base = live_server.url
    sign_up(page, base, "careful@example.org", check_pages=False)
    page.goto(f"{base}/accounts/2fa/totp/activate")
    if "reauthenticate" in page.url:
        page.get_by_role("main").get_by_label("Password").fill(PASSWORD)
        page.get_by_role("main").get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("main")).to_contain_text("Authenticator")
    assert_accessible(page)
