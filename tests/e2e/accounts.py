"""Signing up and finding one's way in the browser, as a person does: the helpers the browser
tests share (the e-mails come from `django.core.mail.outbox`: the live server runs in-process)."""

import re

from django.core import mail
from playwright.sync_api import Locator, Page, expect

from tests.e2e.browser import assert_accessible

PASSWORD = "a-long-and-unusual-passphrase-7"
# Actions (click, fill) wait this long for their element, not Playwright's 30 s: a page of the
# local server that is not there after 10 s is a failure. `expect` waits 5 s.
ACTION_TIMEOUT_MS = 10_000


def only_mail(*, to: str, subject: str) -> mail.EmailMessage:
    found = [m for m in mail.outbox if to in m.to and subject in m.subject]
    assert len(found) == 1, [(m.to, m.subject) for m in mail.outbox]
    return found[0]


def link_in(message: mail.EmailMessage, path_pattern: str) -> str:
    """The path of the link in the e-mail (the host is the configured public one, not the live
    server's)."""
    match = re.search(rf"https?://[^/\s]+({path_pattern}\S*)", message.body)
    assert match, message.body
    return match.group(1)


def sign_up(page: Page, base: str, email: str, *, check_pages: bool = True) -> None:
    """Sign up, confirm the address through the link in the e-mail; ends signed in, on the page
    that creates an organisation."""
    page.goto(f"{base}/accounts/signup/")
    if check_pages:
        assert_accessible(page)
    main = page.get_by_role("main")
    main.get_by_label("Email").fill(email)
    main.get_by_label("Password", exact=True).fill(PASSWORD)
    main.get_by_label("Password (again)").fill(PASSWORD)
    main.get_by_role("button", name="Sign Up").click()
    expect(page).to_have_url(f"{base}/accounts/confirm-email/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Verify Your Email Address")
    if check_pages:
        assert_accessible(page)

    message = only_mail(to=email, subject="Please Confirm Your Email Address")
    page.goto(base + link_in(message, "/accounts/confirm-email/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm Email Address")
    if check_pages:
        assert_accessible(page)
    page.get_by_role("main").get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(f"{base}/organizations/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an organisation")


def create_organisation(page: Page, base: str, name: str) -> None:
    """From the page that creates one: ends on the dashboard, acting for it."""
    page.get_by_label("Organisation name").fill(name)
    page.get_by_role("main").get_by_role("button", name="Create").click()
    expect(page).to_have_url(f"{base}/dashboard")
    expect(
        page.get_by_text(re.compile(rf"^Acting for {re.escape(name)} \(owner\)"))
    ).to_be_visible()


def messages(page: Page) -> Locator:
    """The messages the last action left at the top of the page."""
    return page.get_by_role("region", name="Messages")


def account_menu(page: Page) -> Locator:
    """Open the header's Account menu and return it."""
    menu = page.get_by_role("navigation", name="Site").locator("details.dropdown")
    menu.locator("summary").click()
    expect(menu).to_have_attribute("open", "")
    return menu


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Site").get_by_role("link", name=name, exact=True).click()
