"""Accounts and organisations in a real browser, the way a person uses them: sign up, verify the
address from the e-mail, create an organisation, ask for upload access, manage API keys, invite
a member and remove them, switch organisations, and the errors a mistyped address gets. Every
page visited passes axe-core (no serious or critical violation).

The live server runs in this process: e-mails land in `django.core.mail.outbox` (sent by allauth
in the request, or by eager Celery tasks after the request's commit). The only step not taken in
the browser is the staff decision on upload access, made through its service as the admin does."""

import re

import pytest
from django.conf import settings
from django.core import mail
from playwright.sync_api import Page, expect

from marketplace.models import ApiKey, Membership, Organization, OrganizationInvitation, User
from marketplace.services.identity import organization_decide_upload_access
from tests.e2e.accounts import (
    ACTION_TIMEOUT_MS,
    PASSWORD,
    account_menu,
    create_organisation,
    link_in,
    messages,
    nav,
    only_mail,
    sign_up,
)
from tests.e2e.browser import assert_accessible, screenshot
from tests.factories import make_user


@pytest.fixture(autouse=True)
def _fail_fast(context):
    context.set_default_timeout(ACTION_TIMEOUT_MS)


def test_sign_up_verify_create_an_organisation_and_get_upload_access(live_server, page: Page):
    base = live_server.url
    page.goto(f"{base}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Training data that is licensed, sourced and paid for"
    )
    assert_accessible(page)
    screenshot(page, "home")
    page.get_by_role("main").get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(f"{base}/accounts/signup/")
    screenshot(page, "sign-up")

    sign_up(page, base, "ada@example.org")
    assert_accessible(page)
    create_organisation(page, base, "Cymraeg Voices")
    expect(page.get_by_role("heading", level=1)).to_have_text("Cymraeg Voices")
    expect(page.get_by_role("list", name="Submissions by state")).to_contain_text("0 in review")
    assert_accessible(page)
    screenshot(page, "dashboard")

    nav(page, "Organisation")
    expect(page).to_have_url(f"{base}/organization")
    assert_accessible(page)
    page.get_by_role("button", name="Request upload access").click()
    expect(messages(page)).to_contain_text("Upload access for Cymraeg Voices")
    access = page.get_by_role("region", name="Upload access")
    expect(access).to_contain_text("Requested")
    assert_accessible(page)
    screenshot(page, "organisation")

    org = Organization.objects.get(name="Cymraeg Voices")
    assert org.upload_access == Organization.UploadAccess.REQUESTED
    organization_decide_upload_access(
        organization=org, approve=True, actor=make_user(is_staff=True)
    )
    page.reload()
    expect(access.locator(".status")).to_have_text("Approved")
    expect(page.get_by_role("button", name="Request upload access")).to_have_count(0)
    assert_accessible(page)
    decision = only_mail(to="ada@example.org", subject="Cymraeg Voices can now publish datasets")
    assert f"{settings.PUBLIC_BASE_URL}/dashboard" in decision.body


def test_api_key_is_shown_once_with_a_copy_button_then_listed_and_revoked(live_server, page: Page):
    base = live_server.url
    sign_up(page, base, "keys@example.org", check_pages=False)
    create_organisation(page, base, "Key Holders")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    errors = []
    page.on("pageerror", lambda error: errors.append(error))

    nav(page, "API keys")
    expect(page.get_by_role("heading", level=1)).to_have_text("API keys")
    expect(page.get_by_text("No keys yet.")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Key name").fill("laptop")
    page.get_by_role("button", name="Create key").click()

    new_key = page.get_by_role("article", name="Your new key")
    expect(new_key).to_be_visible()
    secret_field = new_key.get_by_label("Key", exact=True)
    secret = secret_field.input_value()
    key = ApiKey.objects.get(organization__name="Key Holders")
    assert key.name == "laptop" and secret.startswith(f"dc_{key.prefix}_")
    assert_accessible(page)
    screenshot(page, "keys-new-key")

    new_key.get_by_role("button", name="Copy").click()
    expect(new_key.get_by_role("status")).to_have_text("Copied to the clipboard.")
    expect(new_key.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == secret
    assert errors == []

    # Reloading sends the POST again: no second key, and the secret is gone for good.
    page.reload()
    expect(page).to_have_url(f"{base}/organization/keys")
    expect(messages(page)).to_contain_text("That key was already created and its secret shown once")
    expect(page.get_by_role("article", name="Your new key")).to_have_count(0)
    assert secret not in page.content()
    assert ApiKey.objects.filter(organization=key.organization).count() == 1
    row = page.get_by_role("row").filter(has_text="laptop")
    expect(row).to_contain_text(f"{key.prefix}…")
    expect(row).to_contain_text("Active")

    row.get_by_role("button", name=f"Revoke key {key.prefix}").click()
    expect(messages(page)).to_have_text(f"Key {key.prefix}… is revoked.")
    expect(row.locator(".status")).to_have_text("Revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    assert_accessible(page)
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_invite_a_member_who_signs_up_and_joins_then_remove_them(
    live_server, page: Page, new_context
):
    base = live_server.url
    sign_up(page, base, "owner@example.org", check_pages=False)
    create_organisation(page, base, "Inviting Lab")
    nav(page, "Organisation")
    invite = page.get_by_role("region", name="Invite someone")
    invite.get_by_label("E-mail address").fill("Bea@Example.org")
    invite.get_by_role("button", name="Send invitation").click()
    expect(messages(page)).to_have_text("Invitation sent to bea@example.org.")
    expect(invite.get_by_role("row").filter(has_text="bea@example.org")).to_be_visible()
    assert_accessible(page)
    path = link_in(only_mail(to="bea@example.org", subject="Inviting Lab"), "/invitations/")

    invitee_context = new_context()  # her own browser: her own cookies
    invitee_context.set_default_timeout(ACTION_TIMEOUT_MS)
    invitee = invitee_context.new_page()
    sign_up(invitee, base, "bea@example.org", check_pages=False)
    invitee.goto(base + path)
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Invitation")
    expect(invitee.get_by_role("main")).to_contain_text("join Inviting Lab as member")
    assert_accessible(invitee)
    invitee.get_by_role("button", name="Join Inviting Lab").click()
    expect(invitee).to_have_url(f"{base}/dashboard")
    expect(invitee.get_by_text(re.compile(r"^Acting for Inviting Lab \(member\)"))).to_be_visible()

    page.reload()
    members = page.get_by_role("region", name="Members")
    bea_row = members.get_by_role("row").filter(has_text="bea@example.org")
    expect(bea_row).to_contain_text("Member")
    expect(invite.get_by_role("row").filter(has_text="bea@example.org")).to_have_count(0)
    bea_row.get_by_role("button", name="Remove bea@example.org").click()
    expect(messages(page)).to_contain_text("bea@example.org was removed")
    expect(members.get_by_role("row").filter(has_text="bea@example.org")).to_have_count(0)
    assert not Membership.objects.filter(user__email="bea@example.org").exists()

    # Her open session no longer acts for the organisation: the next page asks her to create one.
    invitee.reload()
    expect(invitee).to_have_url(f"{base}/organizations/new")
    expect(messages(invitee)).to_have_text(
        "Create an organisation first, or accept an invitation to one."
    )
    expect(invitee.get_by_text("Acting for")).to_have_count(0)


def test_switch_between_two_organisations_with_the_header_switcher(live_server, page: Page):
    base = live_server.url
    sign_up(page, base, "two@example.org", check_pages=False)
    create_organisation(page, base, "First Lab")
    # One organisation: nothing to switch to.
    expect(page.get_by_label("Switch to")).to_have_count(0)
    account_menu(page).get_by_role("link", name="New organisation").click()
    expect(page).to_have_url(f"{base}/organizations/new")
    create_organisation(page, base, "Second Lab")

    nav(page, "Organisation")
    expect(page.get_by_role("heading", level=1)).to_have_text("Second Lab")
    switcher = page.get_by_label("Switch to")
    expect(switcher).to_have_value(str(Organization.objects.get(name="Second Lab").pk))
    assert_accessible(page)
    switcher.select_option(label="First Lab")
    page.get_by_role("button", name="Switch").click()
    # Back on the same page, now for the other organisation.
    expect(page).to_have_url(f"{base}/organization")
    expect(messages(page)).to_have_text("You now act for First Lab.")
    expect(page.get_by_role("heading", level=1)).to_have_text("First Lab")
    expect(page.get_by_text(re.compile(r"^Acting for First Lab \(owner\)"))).to_be_visible()
    nav(page, "Dashboard")
    expect(page.get_by_role("heading", level=1)).to_have_text("First Lab")


def test_account_pages_from_the_account_menu_and_signing_in_again(live_server, page: Page):
    base = live_server.url
    sign_up(page, base, "acct@example.org", check_pages=False)
    create_organisation(page, base, "Account Lab")
    # Signing out is the Account menu's last entry.
    site = page.get_by_role("navigation", name="Site")
    expect(site.get_by_role("button", name="Sign out")).to_be_hidden()
    site.get_by_text("Account", exact=True).click()
    site.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/")
    expect(
        page.get_by_role("navigation", name="Site").get_by_role("link", name="Sign in")
    ).to_be_visible()

    nav(page, "Sign in")
    expect(page).to_have_url(f"{base}/accounts/login/")
    assert_accessible(page)
    page.get_by_role("main").get_by_label("Email").fill("acct@example.org")
    page.get_by_role("main").get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{base}/dashboard")
    expect(page.get_by_text(re.compile(r"^Acting for Account Lab"))).to_be_visible()

    for link, url, heading in (
        ("E-mail addresses", "/accounts/email/", "Email Addresses"),
        ("Password", "/accounts/password/change/", "Change Password"),
        ("Two-factor authentication", "/accounts/2fa/", "Two-Factor Authentication"),
    ):
        menu = account_menu(page)
        if link == "E-mail addresses":
            assert_accessible(page)  # with the menu open
        menu.get_by_role("link", name=link, exact=True).click()
        expect(page).to_have_url(base + url)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        assert_accessible(page)


def test_bad_addresses_show_the_error_next_to_the_field_and_save_nothing(live_server, page: Page):
    base = live_server.url
    page.goto(f"{base}/accounts/signup/")
    main = page.get_by_role("main")
    email = main.get_by_label("Email")
    # Not an address at all: the browser itself refuses to send the form.
    email.fill("not-an-address")
    main.get_by_label("Password", exact=True).fill(PASSWORD)
    main.get_by_label("Password (again)").fill(PASSWORD)
    main.get_by_role("button", name="Sign Up").click()
    expect(page).to_have_url(f"{base}/accounts/signup/")
    assert email.evaluate("(field) => !field.validity.valid")
    # An address the browser accepts and the server does not: the reason next to the field,
    # with what was typed kept.
    email.fill("ada@example")
    main.get_by_role("button", name="Sign Up").click()
    error = page.locator("#id_email_error")
    expect(error).to_contain_text("Enter a valid email address.")
    expect(email).to_have_value("ada@example")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_attribute("aria-describedby", re.compile(r"\bid_email_error\b"))
    assert_accessible(page)
    assert not User.objects.exists()
    assert mail.outbox == []

    sign_up(page, base, "inviter@example.org", check_pages=False)
    create_organisation(page, base, "Careful Lab")
    nav(page, "Organisation")
    invite = page.get_by_role("region", name="Invite someone")
    invite.get_by_label("E-mail address").fill("kept@example.org")
    invite.get_by_role("button", name="Send invitation").click()
    expect(messages(page)).to_have_text("Invitation sent to kept@example.org.")
    address = invite.get_by_label("E-mail address")
    address.fill("nope")
    invite.get_by_role("button", name="Send invitation").click()
    expect(page).to_have_url(f"{base}/organization/invitations")
    invite = page.get_by_role("region", name="Invite someone")
    address = invite.get_by_label("E-mail address")
    expect(invite.locator("#id_email_error")).to_have_text("Enter a valid email address.")
    expect(address).to_have_value("nope")
    expect(address).to_have_attribute("aria-invalid", "true")
    expect(address).to_have_attribute("aria-describedby", re.compile(r"\bid_email_error\b"))
    # The open invitation is still listed under the form.
    expect(invite.get_by_role("row").filter(has_text="kept@example.org")).to_be_visible()
    assert_accessible(page)
    assert list(OrganizationInvitation.objects.values_list("email", flat=True)) == [
        "kept@example.org"
    ]
    assert [m.to for m in mail.outbox if "Careful Lab" in m.subject] == [["kept@example.org"]]
