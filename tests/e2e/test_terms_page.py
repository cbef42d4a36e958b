"""A dataset's terms page in Chromium, in the site's layout: read the terms and accept them on
behalf of one's organisation; accessible before and after."""

from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import Page, expect

from licensing.models import TermsAcceptance
from tests.catalogue_helpers import publish_dataset
from tests.e2e.browser import assert_accessible, screenshot
from tests.factories import make_key, make_org


def test_read_and_accept_the_terms_for_ones_organisation(live_server, page: Page):
    secret, _key = make_key(uploads=True)
    _sid, version = publish_dataset(secret, name="Terms page speech")
    org, user = make_org(name="Reading Lab")
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
    page.goto(f"{live_server.url}/datasets/{version.dataset.public_id}/terms")
    expect(page.get_by_role("heading", level=1)).to_have_text("Terms of “Terms page speech”")
    assert_accessible(page)
    page.get_by_label("I have read these terms").check()
    page.get_by_role("button", name="Accept these terms").click()
    expect(page.get_by_role("region", name="Messages")).to_contain_text(
        "Reading Lab accepted the terms of Terms page speech."
    )
    assert_accessible(page)
    screenshot(page, "terms")
    assert TermsAcceptance.objects.filter(organization=org, dataset=version.dataset).count() == 1
