"""The contributor invitation link in a real browser: the token rides in the fragment, the page's
script moves it into the form and out of the address bar, and the claim works with the
Content-Security-Policy on (security findings 7 and 12)."""

import re

from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from playwright.sync_api import Page, expect

from contributors.models import Contributor
from contributors.services.invitations import contributor_invite_send
from contributors.services.shares import share_table_set
from marketplace.models import Dataset
from tests.catalogue_helpers import publish_dataset
from tests.factories import make_user
from tests.parties import claim_token, party, verified_address

EMAIL = "ana@example.org"


def test_claim_link_fills_the_form_and_claims(live_server, page: Page):
    owner = party(uploads=True)
    _sid, version = publish_dataset(owner.secret)
    dataset = Dataset.objects.get(pk=version.dataset_id)
    share_table_set(
        actor=owner.actor,
        dataset=dataset,
        basis="weight",
        shares=[{"organization": True, "weight": 1}, {"email": EMAIL, "weight": 1}],
    )
    contributor = Contributor.objects.get(email=EMAIL)
    mail.outbox.clear()
    assert contributor_invite_send(contributor_id=contributor.pk, dataset_id=dataset.pk)
    token = claim_token(mail.outbox[-1].body)

    user = verified_address(make_user(), EMAIL)
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
    page.goto(f"{live_server.url}/contributors/claim#token={token}")
    expect(page.get_by_label("Invitation code")).to_have_value(token)
    # The token left the address bar (no history entry or bookmark keeps it).
    assert "token" not in page.url and page.url.endswith("/contributors/claim")
    page.get_by_role("button", name="Claim my share").click()
    expect(page.get_by_role("status")).to_have_text(re.compile(f"{EMAIL} is now linked"))
    contributor.refresh_from_db()
    assert contributor.user == user
