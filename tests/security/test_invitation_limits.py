"""Invitations to join an organisation are rate-limited per organisation and per inviting user
(security finding 7); the owner reads why next to the field."""

import pytest
from django.core import mail
from django.test import Client

from marketplace.models import Membership
from tests.factories import make_org, make_user

pytestmark = pytest.mark.django_db


def _browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _invite(client, n):
    return client.post(
        "/organization/invitations", {"email": f"person{n}@example.org", "role": "member"}
    )


def test_an_inviter_has_an_hourly_budget(settings, django_capture_on_commit_callbacks):
    settings.ORGANIZATION_INVITES_PER_INVITER_PER_HOUR = 3
    org, owner = make_org()
    client = _browser(owner)
    with django_capture_on_commit_callbacks(execute=True):
        statuses = [_invite(client, n).status_code for n in range(3)]
    assert statuses == [302, 302, 302]
    refused = _invite(client, 3)
    assert refused.status_code == 400
    assert b"as many invitations as you may this hour" in refused.content
    assert org.invitations.count() == 3 and len(mail.outbox) == 3

    # Another owner of the same organisation has a budget of their own.
    second = make_user()
    Membership.objects.create(user=second, organization=org, role=Membership.Role.OWNER)
    assert _invite(_browser(second), 4).status_code == 302


def test_an_organisation_has_a_daily_budget(settings):
    settings.ORGANIZATION_INVITES_PER_DAY = 2
    org, owner = make_org()
    second = make_user()
    Membership.objects.create(user=second, organization=org, role=Membership.Role.OWNER)
    assert _invite(_browser(owner), 1).status_code == 302
    assert _invite(_browser(second), 2).status_code == 302
    refused = _invite(_browser(second), 3)
    assert refused.status_code == 400 and b"as many invitations as it may today" in refused.content
    assert org.invitations.count() == 2
