"""Membership changes on an organisation's admin page go through the identity services: a role
change and a removal are audited, a removal revokes the member's keys, the last owner stays."""

import pytest

from marketplace.models import ApiKey, AuditEvent, Membership
from tests.factories import make_key
from tests.staff.conftest import staff_client
from tests.staff.forms import change_form_data

pytestmark = pytest.mark.django_db


def _row(data, membership) -> str:
    """The inline form prefix of `membership` in posted change-form data."""
    for key, value in data.items():
        if (
            key.startswith("memberships-")
            and key.endswith("-id")
            and str(value) == str(membership.pk)
        ):
            return key[: -len("-id")]
    raise AssertionError(f"membership {membership.pk} is not on the page")


def test_role_change_and_removal_go_through_the_services(superuser, provider):
    _secret, key = make_key(org=provider.org)
    member = Membership.objects.get(organization=provider.org, user=key.user)
    owner = Membership.objects.get(organization=provider.org, user=provider.user)
    client = staff_client(superuser)
    url = f"/admin/marketplace/organization/{provider.org.pk}/change/"

    data = change_form_data(client, url)
    data[f"{_row(data, member)}-role"] = "owner"
    assert client.post(url, data).status_code == 302
    member.refresh_from_db()
    assert member.role == "owner"
    event = AuditEvent.objects.get(action="membership.role_set")
    assert event.actor == superuser
    assert event.data == {"user": key.user_id, "before": "member", "after": "owner"}

    data = change_form_data(client, url)
    data[f"{_row(data, owner)}-DELETE"] = "on"
    assert client.post(url, data).status_code == 302
    assert not Membership.objects.filter(pk=owner.pk).exists()
    assert AuditEvent.objects.get(action="membership.remove").actor == superuser
    assert ApiKey.objects.get(pk=provider.key.pk).revoked_at is not None
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_the_last_owner_is_not_demoted_and_the_page_says_why(superuser, provider):
    owner = Membership.objects.get(organization=provider.org, user=provider.user)
    client = staff_client(superuser)
    url = f"/admin/marketplace/organization/{provider.org.pk}/change/"
    data = change_form_data(client, url)
    data[f"{_row(data, owner)}-role"] = "member"
    page = client.post(url, data, follow=True)
    assert "The last owner cannot become a member" in page.content.decode()
    owner.refresh_from_db()
    assert owner.role == "owner"
    assert not AuditEvent.objects.filter(action="membership.role_set").exists()
