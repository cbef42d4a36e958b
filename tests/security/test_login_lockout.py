"""Rate limits and lockout on every password form: the site's sign-in, the Django admin's login
(which goes through the site's sign-in) and password reset (security finding 5)."""

import pytest
from django.core import mail
from django.test import Client

from tests.factories import make_user
from tests.parties import verified_address

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-1"
LOCKED = "Too many failed login attempts"


def _person(**kwargs):
    user = make_user(password=PASSWORD, **kwargs)
    return verified_address(user, user.email)


def _sign_in(client, email, password, path="/accounts/login/"):
    return client.post(path, {"login": email, "password": password})


def test_sign_in_locks_after_the_failure_budget(settings):
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login_failed": "20/m/ip,3/900s/key",
    }
    user = _person()
    client = Client()
    for _ in range(3):
        failed = _sign_in(client, user.email, "wrong password")
        assert failed.status_code == 200 and LOCKED not in failed.content.decode()
    # Locked: even the right password is refused, with a readable message.
    locked = _sign_in(client, user.email, PASSWORD)
    assert LOCKED in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # From another address (another client) too: the lock is on the account's key.
    other = _sign_in(Client(REMOTE_ADDR="198.51.100.7"), user.email, PASSWORD)
    assert LOCKED in other.content.decode()
    # Another account is not affected.
    bystander = _person()
    assert _sign_in(Client(), bystander.email, PASSWORD).status_code == 302


def test_the_default_settings_lock_after_five_failures():
    user = _person()
    client = Client()
    for _ in range(5):
        _sign_in(client, user.email, "wrong password")
    assert LOCKED in _sign_in(client, user.email, PASSWORD).content.decode()


def test_admin_login_goes_through_the_limited_sign_in(settings):
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login_failed": "20/m/ip,3/900s/key",
    }
    staff = _person(is_staff=True)
    client = Client()
    page = client.get("/admin/login/?next=/admin/licensing/")
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/?next=/admin/licensing/")
    # Posting credentials to the admin's own form signs nobody in.
    direct = client.post("/admin/login/", {"username": staff.username, "password": PASSWORD})
    assert direct.status_code == 302 and direct["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session
    # An offsite `next` is dropped.
    offsite = client.get("/admin/login/?next=https://evil.example/")
    assert "evil.example" not in offsite["Location"]

    for _ in range(3):
        _sign_in(client, staff.email, "wrong password", "/accounts/login/?next=/admin/")
    locked = _sign_in(client, staff.email, PASSWORD, "/accounts/login/?next=/admin/")
    assert LOCKED in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_staff_sign_in_reaches_the_admin_and_others_get_403(settings):
    settings.WEB_STAFF_MFA_REQUIRED = False
    staff = _person(is_staff=True)
    client = Client()
    signed_in = _sign_in(client, staff.email, PASSWORD, "/accounts/login/?next=/admin/")
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"
    assert client.get("/admin/login/").status_code == 302  # the admin sends staff on
    member = Client()
    member.force_login(_person())
    assert member.get("/admin/login/").status_code == 403


def test_password_reset_is_rate_limited_per_address(settings):
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "reset_password": "20/m/ip,2/m/key",
    }
    user = _person()
    client = Client()
    for _ in range(2):
        sent = client.post("/accounts/password/reset/", {"email": user.email})
        assert sent.status_code == 302
    assert len(mail.outbox) == 2
    limited = client.post("/accounts/password/reset/", {"email": user.email})
    assert limited.status_code == 429
    html = limited.content.decode()
    assert "Too many attempts" in html and "try again" in html  # our page, in the site layout
    assert len(mail.outbox) == 2
