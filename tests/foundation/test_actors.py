"""Who acts: the Actor built from a Bearer key or a browser session, membership checked on every
request, keys an owner and a member may see and revoke, and keys never minted with more rights
than the key that mints them."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from licensing.models import TermsAcceptance
from licensing.selectors import dataset_terms
from marketplace.actors import NotAMember, actor_for_key, actor_for_member
from marketplace.models import ApiKey, AuditEvent, Membership
from marketplace.services.errors import Conflict, Forbidden
from marketplace.services.identity import (
    api_key_create,
    membership_add,
    membership_remove,
    organization_decide_upload_access,
)
from marketplace.services.submissions import submission_create
from tests.catalogue_helpers import publish_dataset
from tests.factories import make_key, make_org, make_user

pytestmark = pytest.mark.django_db


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def member_key(org):
    """A plain member of `org` and their key: (user, secret, ApiKey)."""
    user = make_user()
    membership_add(organization=org, user=user)
    issued = api_key_create(actor=actor_for_member(user=user, organization=org))
    return user, issued.secret, issued.key


# --- removal: a removed member can act for the organisation in no way -------------------------


def test_removing_a_member_revokes_their_keys_and_their_key_is_401():
    org, owner = make_org()
    member, secret, key = member_key(org)
    other_org, _ = make_org()
    membership_add(organization=other_org, user=member)
    elsewhere = api_key_create(actor=actor_for_member(user=member, organization=other_org))
    assert client_for(secret).get("/api/me").status_code == 200

    owner_actor = actor_for_member(user=owner, organization=org)
    membership_remove(
        actor=owner_actor, membership=Membership.objects.get(user=member, organization=org)
    )

    response = client_for(secret).get("/api/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    key.refresh_from_db()
    assert key.revoked_at is not None
    # Their key in another organisation is untouched.
    assert client_for(elsewhere.secret).get("/api/me").status_code == 200
    audit = AuditEvent.objects.get(action="membership.remove")
    assert (audit.actor, audit.organization, audit.data["keys_revoked"]) == (owner, org, 1)
    assert AuditEvent.objects.filter(
        action="api_key.revoke", object_id=str(key.pk), data__reason="membership.remove"
    ).exists()


def test_key_of_a_user_no_longer_member_is_401_even_if_not_revoked():
    """Authentication checks the membership in the same query as the key: a key that escaped
    revocation (a membership deleted by a cascade or by hand) still cannot act."""
    org, _owner = make_org()
    member, secret, key = member_key(org)
    Membership.objects.filter(user=member, organization=org).delete()
    response = client_for(secret).get("/api/me")
    assert response.status_code == 401
    assert "no longer a member" in response.json()["message"]
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_removed_members_web_session_can_no_longer_act_for_the_organisation():
    provider_secret, _ = make_key(uploads=True)
    _sid, version = publish_dataset(provider_secret, name="Session test speech")
    dataset = version.dataset
    org, owner = make_org()
    member, _secret, _key = member_key(org)
    browser = Client()
    browser.force_login(member)
    url = f"/datasets/{dataset.public_id}/terms"
    assert org.name in browser.get(url).content.decode()

    membership_remove(
        actor=actor_for_member(user=owner, organization=org),
        membership=Membership.objects.get(user=member, organization=org),
    )

    with pytest.raises(NotAMember):
        actor_for_member(user=member, organization=org)
    page = browser.get(url).content.decode()
    assert org.name not in page
    response = browser.post(
        url, {"organization": org.pk, "terms_hash": dataset_terms(dataset).hash, "agree": "on"}
    )
    assert response.status_code == 400
    assert not TermsAcceptance.objects.filter(organization=org).exists()


def test_a_member_may_leave_but_not_remove_others_and_the_last_owner_stays():
    org, owner = make_org()
    member, _secret, _key = member_key(org)
    colleague, _s, _k = member_key(org)
    member_actor = actor_for_member(user=member, organization=org)
    with pytest.raises(Forbidden):
        membership_remove(
            actor=member_actor, membership=Membership.objects.get(user=colleague, organization=org)
        )
    membership_remove(
        actor=member_actor, membership=Membership.objects.get(user=member, organization=org)
    )
    assert not Membership.objects.filter(user=member, organization=org).exists()
    with pytest.raises(Conflict):
        membership_remove(
            actor=actor_for_member(user=owner, organization=org),
            membership=Membership.objects.get(user=owner, organization=org),
        )
    assert Membership.objects.filter(user=owner, organization=org).exists()


# --- keys: who sees and revokes which --------------------------------------------------------


def test_owner_lists_every_key_with_all_true_member_only_their_own():
    owner_secret, owner_key = make_key()
    org = owner_key.organization
    _member, member_secret, member_key_row = member_key(org)

    everything = client_for(owner_secret).get("/api/keys?all=true")
    assert everything.status_code == 200
    assert {k["prefix"] for k in everything.json()["items"]} == {
        owner_key.prefix,
        member_key_row.prefix,
    }
    own = client_for(owner_secret).get("/api/keys").json()["items"]
    assert [k["prefix"] for k in own] == [owner_key.prefix]

    refused = client_for(member_secret).get("/api/keys?all=true")
    assert refused.status_code == 403
    assert refused.json()["error"] == "owner_required"
    mine = client_for(member_secret).get("/api/keys").json()["items"]
    assert [k["prefix"] for k in mine] == [member_key_row.prefix]


def test_member_cannot_see_or_revoke_the_owners_key_owner_can_revoke_the_members():
    owner_secret, owner_key = make_key()
    _member, member_secret, member_key_row = member_key(owner_key.organization)
    member = client_for(member_secret)
    assert member.get(f"/api/keys/{owner_key.pk}").status_code == 404
    assert member.delete(f"/api/keys/{owner_key.pk}").status_code == 404
    assert ApiKey.objects.get(pk=owner_key.pk).revoked_at is None

    assert client_for(owner_secret).delete(f"/api/keys/{member_key_row.pk}").status_code == 204
    assert client_for(member_secret).get("/api/me").status_code == 401
    audit = AuditEvent.objects.get(action="api_key.revoke", object_id=str(member_key_row.pk))
    assert (audit.actor, audit.api_key) == (owner_key.user, owner_key)


def test_a_key_cannot_create_a_key_for_another_user():
    secret, key = make_key()
    _member, member_secret, _ = member_key(key.organization)
    colleague = Membership.objects.exclude(user=key.user).get(organization=key.organization).user
    response = client_for(secret).post(
        "/api/keys",
        {"name": "for them", "userId": colleague.pk, "user": colleague.pk},
        format="json",
    )
    assert response.status_code == 201
    minted = ApiKey.objects.get(prefix=response.json()["prefix"])
    assert minted.user == key.user
    assert response.json()["userId"] == str(key.user.pk)
    # Nothing new among the colleague's keys.
    assert len(client_for(member_secret).get("/api/keys").json()["items"]) == 1
    audit = AuditEvent.objects.get(action="api_key.create", object_id=str(minted.pk))
    assert (audit.actor, audit.api_key) == (key.user, key)


# --- upload rights: keys stay about keys, sessions can upload -------------------------------


def test_key_minted_by_a_pre_approval_key_cannot_upload_either():
    org, owner = make_org()
    early = api_key_create(actor=actor_for_member(user=owner, organization=org))
    organization_decide_upload_access(organization=org, approve=True, actor=None)

    early_client = client_for(early.secret)
    assert early_client.get("/api/me").json()["canUpload"] is False
    minted = early_client.post("/api/keys", {"name": "child"}, format="json")
    assert minted.status_code == 201 and minted.json()["mayUpload"] is False
    child = client_for(minted.json()["key"])
    assert child.get("/api/me").json()["canUpload"] is False
    refused = child.post("/api/submissions", {"name": "x"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"] == "key_predates_upload_approval"
    # A grandchild is no better.
    grandchild = child.post("/api/keys", {}, format="json").json()
    assert grandchild["mayUpload"] is False

    # A key made after approval, by the owner's browser session, uploads; so do its children.
    session = actor_for_member(user=owner, organization=org)
    fresh = api_key_create(actor=session)
    assert fresh.key.may_upload is True
    fresh_client = client_for(fresh.secret)
    assert fresh_client.post("/api/submissions", {"name": "ok"}, format="json").status_code == 201
    assert fresh_client.post("/api/keys", {}, format="json").json()["mayUpload"] is True


def test_browser_session_of_an_approved_organisation_can_upload_without_a_key():
    org, owner = make_org(uploads=True)
    member = make_user()
    membership_add(organization=org, user=member)
    actor = actor_for_member(user=member, organization=org)
    assert actor.api_key is None and actor.can_upload
    submission = submission_create(actor=actor, name="From the browser")
    audit = AuditEvent.objects.get(action="submission.create", object_id=str(submission.pk))
    assert (audit.actor, audit.api_key, audit.organization) == (member, None, org)

    unapproved, unapproved_owner = make_org()
    with pytest.raises(Forbidden):
        submission_create(
            actor=actor_for_member(user=unapproved_owner, organization=unapproved), name="no"
        )


def test_actor_of_a_key_names_its_role():
    secret, key = make_key()
    assert actor_for_key(key).is_owner
    me = client_for(secret).get("/api/me").json()
    assert me["role"] == "owner"
    _member, member_secret, _ = member_key(key.organization)
    assert client_for(member_secret).get("/api/me").json()["role"] == "member"
