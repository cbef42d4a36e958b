"""Organisations in the browser: create, switch, invite by e-mail and accept, remove a member
(their keys are revoked and their session can no longer act), leave, ask for upload access. Every
change is a POST with CSRF; another organisation's objects are 404."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from marketplace.models import ApiKey, AuditEvent, Membership, Organization
from marketplace.services.identity import organization_decide_upload_access
from tests.factories import make_key, make_org, make_user

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def verified(user, email=None):
    EmailAddress.objects.create(
        user=user, email=email or user.email, verified=True, primary=email is None
    )
    return user


def test_create_an_organisation_and_become_its_owner():
    user = make_user()
    client = browser(user)
    assert client.get("/dashboard")["Location"] == "/organizations/new"
    bad = client.post("/organizations/new", {"name": ""})
    assert bad.status_code == 400 and b"This field is required" in bad.content
    assert not Organization.objects.filter(memberships__user=user).exists()
    done = client.post("/organizations/new", {"name": "Cymraeg Voices"}, follow=True)
    assert done.redirect_chain[-1][0] == "/dashboard"
    org = Organization.objects.get(name="Cymraeg Voices")
    assert Membership.objects.get(user=user, organization=org).role == "owner"
    html = done.content.decode()
    assert "Acting for <strong>Cymraeg Voices</strong>" in html
    assert "Ask staff for upload access" in html


def test_switching_organisation_changes_who_the_pages_act_for():
    user = make_user()
    first, _ = make_org(name="First Lab", owner=user)
    second, _ = make_org(name="Second Lab", owner=user)
    stranger, _ = make_org(name="Not Mine")
    client = browser(user)
    assert "Acting for <strong>First Lab</strong>" in client.get("/dashboard").content.decode()
    client.post("/organizations/switch", {"organization": second.pk, "next": "/organization"})
    assert "<h1>Second Lab</h1>" in client.get("/organization").content.decode()
    # Not a member: refused, nothing changes; an off-site `next` is ignored.
    response = client.post(
        "/organizations/switch", {"organization": stranger.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/dashboard"
    assert "<h1>Second Lab</h1>" in client.get("/organization").content.decode()


def test_invite_accept_with_the_verified_address_only(django_capture_on_commit_callbacks):
    org, owner = make_org(name="Inviting Org")
    client = browser(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/organization/invitations", {"email": "Bea@Example.org", "role": "member"}
        )
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == ["bea@example.org"] and "Inviting Org" in message.subject
    path = re.search(r"https?://[^/\s]+(/invitations/\S+)", message.body).group(1)

    # Anyone can read the invitation; accepting needs the invited address, verified.
    assert b"Inviting Org" in Client().get(path).content
    assert Client().post(path)["Location"].startswith("/accounts/login/?next=/invitations/")
    other = verified(make_user())
    refused = browser(other).post(path)
    assert refused.status_code == 403 and b"bea@example.org" in refused.content
    bea = verified(make_user(), email="bea@example.org")
    joined = browser(bea).post(path, follow=True)
    assert joined.redirect_chain[-1][0] == "/dashboard"
    assert Membership.objects.get(user=bea, organization=org).role == "member"
    # One-time.
    assert browser(bea).post(path).status_code == 410


def test_invite_errors_show_next_to_the_field_and_send_nothing():
    org, owner = make_org()
    member = make_user()
    Membership.objects.create(user=member, organization=org)
    client = browser(owner)
    bad = client.post("/organization/invitations", {"email": "nope", "role": "member"})
    assert bad.status_code == 400 and b"Enter a valid email address" in bad.content
    again = client.post("/organization/invitations", {"email": member.email, "role": "member"})
    assert again.status_code == 400 and b"already a member" in again.content
    assert mail.outbox == []
    # A plain member cannot invite.
    refused = browser(member).post(
        "/organization/invitations", {"email": "x@example.org", "role": "owner"}, follow=True
    )
    assert b"Only an owner can invite members" in refused.content
    assert not org.invitations.exists()


def test_removing_a_member_revokes_their_keys_and_their_session_stops_acting():
    secret, key = make_key()
    org, owner = key.organization, key.user
    member_secret, member_key = make_key(org=org)
    member = member_key.user
    member_browser = browser(member)
    assert member_browser.get("/organization/keys").status_code == 200

    membership = Membership.objects.get(user=member, organization=org)
    assert browser(owner).post(f"/organization/members/{membership.pk}/remove").status_code == 302
    assert ApiKey.objects.get(pk=member_key.pk).revoked_at is not None
    assert AuditEvent.objects.filter(action="membership.remove", organization=org).exists()
    # The member's open session no longer acts for the organisation.
    response = member_browser.get("/organization/keys")
    assert response["Location"] == "/organizations/new"


def test_a_member_cannot_remove_others_and_the_last_owner_cannot_leave():
    org, owner = make_org()
    member, colleague = make_user(), make_user()
    for user in (member, colleague):
        Membership.objects.create(user=user, organization=org)
    colleague_membership = Membership.objects.get(user=colleague, organization=org)
    response = browser(member).post(
        f"/organization/members/{colleague_membership.pk}/remove", follow=True
    )
    assert b"Only an owner can remove another member" in response.content
    assert Membership.objects.filter(pk=colleague_membership.pk).exists()
    own = Membership.objects.get(user=owner, organization=org)
    # The page offers the last owner no Leave button, and says why; a forged POST is refused.
    page = browser(owner).get("/organization").content.decode()
    assert "The last owner: to leave, invite another owner first." in page
    assert f'action="/organization/members/{own.pk}/remove"' not in page
    assert "The last owner" not in browser(member).get("/organization").content.decode()
    response = browser(owner).post(f"/organization/members/{own.pk}/remove", follow=True)
    assert b"The last owner cannot leave or be removed" in response.content
    assert Membership.objects.filter(pk=own.pk).exists()
    # With a second owner, either may leave.
    Membership.objects.filter(user=colleague, organization=org).update(role=Membership.Role.OWNER)
    page = browser(owner).get("/organization").content.decode()
    assert f'action="/organization/members/{own.pk}/remove"' in page and ">Leave</button>" in page
    # Leaving works for a member.
    mine = Membership.objects.get(user=member, organization=org)
    assert browser(member).post(f"/organization/members/{mine.pk}/remove")["Location"] == "/"
    assert not Membership.objects.filter(pk=mine.pk).exists()


def test_another_organisations_objects_are_404():
    org, owner = make_org()
    other, other_owner = make_org()
    theirs = Membership.objects.get(user=other_owner, organization=other)
    client = browser(owner)
    assert client.post(f"/organization/members/{theirs.pk}/remove").status_code == 404
    assert Membership.objects.filter(pk=theirs.pk).exists()


def test_upload_access_request_and_the_owner_is_emailed_the_decision(
    django_capture_on_commit_callbacks,
):
    org, owner = make_org(name="Publishing Lab")
    client = browser(owner)
    assert b"Request upload access" in client.get("/organization").content
    client.post("/organization/upload-access")
    org.refresh_from_db()
    assert org.upload_access == "requested"
    assert b"Requested" in client.get("/organization").content
    with django_capture_on_commit_callbacks(execute=True):
        organization_decide_upload_access(
            organization=org, approve=True, actor=make_user(is_staff=True)
        )
    [message] = [m for m in mail.outbox if owner.email in m.to]
    assert "Publishing Lab can now publish" in message.subject
    assert b"Approved" in client.get("/organization").content


def test_state_changes_need_csrf():
    org, owner = make_org()
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post("/organizations/new", {"name": "x"}).status_code == 403
    assert client.post("/organization/upload-access").status_code == 403
    assert client.post("/organization/keys", {"name": "k"}).status_code == 403
    org.refresh_from_db()
    assert org.upload_access == "none"
