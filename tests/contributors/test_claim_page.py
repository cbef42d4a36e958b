"""The link in the invitation e-mail opens a page where the signed-in person claims their share.
The token rides in the link's fragment and is POSTed by the page's form, never in a URL path
(security finding 7)."""

import pytest
from django.core import mail
from django.test import Client

from contributors.models import Contributor
from tests.contributors.conftest import shares_url
from tests.contributors.test_invitations import ana_and_ben, claim_link, invitation_to
from tests.factories import make_user
from tests.parties import verified_address

pytestmark = pytest.mark.django_db


def test_claim_link_page_signs_in_then_claims(owner, dataset):
    assert owner.put(shares_url(dataset), ana_and_ben(), format="json").status_code == 200
    url, token = claim_link(invitation_to("ana@example.org"))
    assert url.endswith(f"/contributors/claim#token={token}")
    path = "/contributors/claim"

    # Signed out: the page shows the form; posting it keeps the token in the session (not in
    # the login URL) while the person signs in.
    anonymous = Client()
    page = anonymous.get(path)
    assert page.status_code == 200 and b'name="token"' in page.content
    assert page["Referrer-Policy"] == "same-origin"
    sent = anonymous.post(path, {"token": token})
    assert sent.status_code == 302 and sent["Location"].startswith("/accounts/login/?next=")
    assert token not in sent["Location"]

    ana_user = verified_address(make_user(password="a-long-test-password-1"), "ana@example.org")
    anonymous.force_login(ana_user)
    page = anonymous.get(path)  # back from signing in: the token waits in the form
    assert page.status_code == 200 and b"Claim my share" in page.content
    assert token.encode() in page.content
    done = anonymous.post(path, {"token": token})
    assert done.status_code == 200 and b"ana@example.org" in done.content
    assert Contributor.objects.get(email="ana@example.org").user == ana_user

    # One-time: the same token again is refused with a readable page.
    again = anonymous.post(path, {"token": token})
    assert again.status_code == 404 and b"not valid" in again.content
    assert len(mail.outbox) >= 1


def test_old_links_move_the_token_into_the_session(owner, dataset):
    owner.put(shares_url(dataset), ana_and_ben(), format="json")
    _, token = claim_link(invitation_to("ana@example.org"))
    browser = Client()
    browser.force_login(verified_address(make_user(), "ana@example.org"))
    old = browser.get(f"/contributors/claim/{token}")
    assert old.status_code == 302 and old["Location"] == "/contributors/claim"
    page = browser.get("/contributors/claim")
    assert token.encode() in page.content
    assert browser.post("/contributors/claim", {"token": token}).status_code == 200


def test_onboarding_return_and_refresh_pages_exist():
    assert Client().get("/payout-account/return").status_code == 200
    assert b"expired" in Client().get("/contributors/me/payout-account/refresh").content
