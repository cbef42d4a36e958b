"""A datasheet field that is too long, in Chromium: the reason is shown next to the field, what
was typed is kept, and nothing is saved."""

from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import Page, expect

from marketplace.actors import actor_for_member
from marketplace.models import Submission
from marketplace.services.submissions import submission_create
from tests.e2e.browser import assert_accessible
from tests.factories import make_org


def test_a_too_long_short_description_is_refused_next_to_the_field(live_server, page: Page):
    org, user = make_org(uploads=True)
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
    submission = submission_create(
        actor=actor_for_member(user=user, organization=org), name="Too long"
    )
    page.goto(f"{live_server.url}/submissions/{submission.public_id}/datasheet")
    field = page.get_by_label("Short description")
    # The browser enforces maxlength on typing; a pasted or scripted value can still exceed it.
    field.evaluate("(el) => { el.removeAttribute('maxlength'); el.value = 'x'.repeat(501); }")
    page.get_by_label("Locale").fill("cy-GB")
    page.get_by_role("button", name="Save", exact=True).click()
    error = page.locator("#id_shortDescription_error")
    expect(error).to_contain_text("at most 500 characters")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_value("x" * 501)
    assert_accessible(page)
    submission.refresh_from_db()
    assert (submission.short_description, submission.locale) == ("", "")
    assert Submission.objects.filter(organization=org).count() == 1
