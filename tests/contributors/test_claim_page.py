"""The link in the invitation e-mail opens a page where the signed-in person claims their share."""

import pytest
from django.core import mail
from django.test import Client

from contributors.models import Contributor
from tests.contributors.conftest import shares_url
from tests.contributors.test_invitations import ana_and_ben, claim_link, invitation_to
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_claim_link_page_signs_in_then_claims(owner, dataset):
    assert owner.put(shares_url(dataset), ana_and_ben(), format="json").status_code == 200
    url, token = claim_link(invitation_to("ana@example.org"))
    path = f"/contributors/claim/{token}"

    anonymous = Client().get(path)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(
        "/accounts/login/?next="
    )

    ana_user = make_user(password="a-long-test-password-1")
    browser = Client()
    browser.force_login(ana_user)
    page = browser.get(path)
    assert page.status_code == 200 and b"Claim my share" in page.content
    done = browser.post(path)
    assert done.status_code == 200 and b"ana@example.org" in done.content
    assert Contributor.objects.get(email="ana@example.org").user == ana_user

    # One-time: the same link again is refused with a readable page.
    again = browser.post(path)
    assert again.status_code == 404 and b"not valid" in again.content
    assert len(mail.outbox) >= 1


def test_onboarding_return_and_refresh_pages_exist():
    assert Client().get("/payout-account/return").status_code == 200
    assert b"expired" in Client().get("/contributors/me/payout-account/refresh").content
