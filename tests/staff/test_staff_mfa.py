"""Staff two-factor in the admin (WEB_STAFF_MFA_REQUIRED, on in production settings): staff
without an activated TOTP authenticator are sent to set one up; with one, a session signed in
by password alone is asked for a code first."""

import subprocess
import sys
import time

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.urls import reverse

from tests.factories import make_user
from tests.foundation.test_deploy_check import ROOT, production_env
from tests.staff.conftest import staff_client

pytestmark = pytest.mark.django_db


def _code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


@pytest.fixture
def mfa_required(settings):
    settings.WEB_STAFF_MFA_REQUIRED = True


def test_staff_without_totp_are_sent_to_set_it_up(mfa_required):
    staff = make_user(is_staff=True, groups=["reviewer"], password="correct horse battery")
    client = staff_client(staff)
    for url in ["/admin/", "/admin/marketplace/submission/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert (
            response["Location"] == f"{reverse('mfa_activate_totp')}?next={url.replace('/', '%2F')}"
        )
    # The set-up page is allauth's (after confirming the password, as for any security change).
    setup = client.get("/admin/", follow=True)
    assert setup.status_code == 200
    assert setup.redirect_chain[-1][0].startswith(reverse("account_reauthenticate"))
    confirmed = client.post(
        setup.redirect_chain[-1][0], {"password": "correct horse battery"}, follow=True
    )
    assert confirmed.status_code == 200
    assert confirmed.redirect_chain[-1][0].startswith(reverse("mfa_activate_totp"))
    assert "totp_svg" in confirmed.context
    # Signing out of the admin still works.
    assert client.post(reverse("admin:logout")).status_code == 200


def test_staff_with_totp_enter_a_code_before_the_admin(mfa_required, reviewer_user):
    secret = generate_totp_secret()
    TOTP.activate(reviewer_user, secret)
    client = staff_client(reviewer_user)  # signed in without a second factor
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))

    done = client.post(response["Location"], {"code": _code(secret)})
    assert done.status_code == 302 and done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/marketplace/submission/").status_code == 200


def test_without_the_setting_staff_use_the_admin_as_before(settings, reviewer_user):
    settings.WEB_STAFF_MFA_REQUIRED = False
    assert staff_client(reviewer_user).get("/admin/").status_code == 200


def test_people_who_are_not_staff_are_not_asked_to_set_up_totp(mfa_required):
    client = staff_client(make_user())
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_production_settings_require_staff_two_factor():
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.WEB_STAFF_MFA_REQUIRED)",
        ],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"
