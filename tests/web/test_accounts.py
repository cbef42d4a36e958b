"""Accounts through django-allauth in the site's layout: sign up with e-mail and password, the
mandatory e-mail verification, sign in and out, and the login every page uses (safe `next`)."""

import re

import pytest
from django.core import mail
from django.test import Client

from tests.factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase-7"


def sign_up(client: Client, email: str) -> str:
    """Sign up; returns the verification link from the e-mail."""
    response = client.post(
        "/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302, response.content[:2000]
    [message] = [m for m in mail.outbox if email in m.to]
    return re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", message.body).group(1)


def test_sign_up_needs_a_verified_email_then_lands_on_creating_an_organisation():
    client = Client()
    link = sign_up(client, "ada@example.org")
    # Not signed in before the address is verified.
    assert client.get("/dashboard").status_code == 302
    blocked = client.post("/accounts/login/", {"login": "ada@example.org", "password": PASSWORD})
    assert blocked.status_code == 302 and "confirm-email" in blocked["Location"]

    page = client.get(link)
    assert page.status_code == 200 and b"Data Collective" in page.content
    confirmed = client.post(link, follow=True)
    assert confirmed.redirect_chain[-1][0].endswith("/organizations/new")
    assert b"Create an organisation" in confirmed.content


def test_every_page_that_needs_a_login_uses_the_account_login_with_next():
    for path in ("/dashboard", "/organization", "/organization/keys", "/datasets/x/terms"):
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={path}"
    assert Client().get("/terms/login").status_code == 404


def test_login_ignores_an_offsite_next():
    user = make_user(password=PASSWORD)
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    client = Client()
    response = client.post(
        "/accounts/login/?next=https://evil.example/steal",
        {"login": user.email, "password": PASSWORD, "next": "https://evil.example/steal"},
    )
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


def test_bad_sign_up_shows_the_reason_next_to_the_field_and_saves_nothing():
    from marketplace.models import User

    response = Client().post(
        "/accounts/signup/", {"email": "not-an-address", "password1": "x", "password2": "y"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "valid email" in html.lower()
    assert not User.objects.filter(email="not-an-address").exists()
    assert mail.outbox == []


def test_home_page_is_public_and_links_to_sign_up():
    response = Client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/accounts/signup/"' in html and 'href="/accounts/login/"' in html
    assert "vendor/pico/pico.min.css" in html and "vendor/htmx/htmx.min.js" in html
