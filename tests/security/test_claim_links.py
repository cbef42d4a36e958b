"""Contributor invitation links: the token is not in the URL path, and a claim needs the
invited address verified on the claiming account (security finding 7)."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from contributors.models import Contributor
from tests.assertions import assert_error
from tests.catalogue_helpers import api
from tests.contributors.conftest import dataset, shares_url  # noqa: F401 - fixture
from tests.factories import make_key
from tests.parties import claim_token, verified_address

pytestmark = pytest.mark.django_db

EMAIL = "ana@example.org"


@pytest.fixture
def token(provider, dataset):  # noqa: F811
    response = provider.client.put(
        shares_url(dataset),
        {"basis": "weight", "shares": [{"email": EMAIL, "name": "Ana", "weight": 1}]},
        format="json",
    )
    assert response.status_code == 200
    [message] = [m for m in mail.outbox if m.to == [EMAIL]]
    assert not re.search(r"/contributors/claim/\S", message.body)  # not in any path
    return claim_token(message.body)


def _claim(secret, token):
    return api(secret).post("/api/contributors/claim", {"token": token}, format="json")


def test_a_forwarded_link_is_useless_to_another_account(token):
    secret, key = make_key()
    verified_address(key.user, "mallory@example.org")
    assert_error(_claim(secret, token), 403, "invitation_email_mismatch")
    assert Contributor.objects.get(email=EMAIL).user is None


def test_the_invited_address_must_be_verified(token):
    secret, key = make_key()
    EmailAddress.objects.create(user=key.user, email=EMAIL, verified=False, primary=False)
    assert_error(_claim(secret, token), 403, "invitation_email_mismatch")
    assert Contributor.objects.get(email=EMAIL).user is None
    # Once verified, the same (still unused) link works.
    EmailAddress.objects.filter(user=key.user, email=EMAIL).update(verified=True)
    assert _claim(secret, token).status_code == 200
    assert Contributor.objects.get(email=EMAIL).user == key.user


def test_the_address_matches_whatever_its_case(token):
    secret, key = make_key()
    verified_address(key.user, EMAIL.upper())
    assert _claim(secret, token).status_code == 200


def test_the_web_page_says_why(token, client):
    from tests.factories import make_user

    user = verified_address(make_user(), "someone-else@example.org")
    client.force_login(user)
    page = client.post("/contributors/claim", {"token": token})
    assert page.status_code == 403
    assert b"another e-mail address" in page.content
    assert Contributor.objects.get(email=EMAIL).user is None
