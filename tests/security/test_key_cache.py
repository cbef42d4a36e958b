"""The API-key authentication cache (marketplace.authentication): a key that authenticated is
served from Redis for a few seconds, and every change that must stop it (or change what it may
do) takes effect on the very next request, whichever path makes the change."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.actors import actor_for_key, actor_for_member
from marketplace.key_cache import TOMBSTONE, _cache_key, key_remember
from marketplace.models import ApiKey, Membership, User
from marketplace.services.identity import (
    api_key_hash,
    api_key_revoke,
    membership_remove,
    organization_decide_upload_access,
)
from marketplace.services.staff import membership_role_set
from tests.catalogue_helpers import api
from tests.factories import make_key, make_org, make_user

pytestmark = pytest.mark.django_db


def me(secret: str):
    return api(secret).get("/api/me")


def cached(secret: str):
    return cache.get(_cache_key(api_key_hash(secret)))


def warm(secret: str) -> dict:
    """Authenticate once, so the next request is answered from the cache."""
    response = me(secret)
    assert response.status_code == 200, response.json()
    entry = cached(secret)
    assert entry is not None and entry != TOMBSTONE
    return response.json()


def test_a_cached_key_authenticates_without_a_query(django_assert_num_queries):
    secret, key = make_key()
    warm(secret)
    with django_assert_num_queries(0):
        response = me(secret)
    assert response.status_code == 200
    assert response.json()["apiKey"]["prefix"] == key.prefix
    assert response.json()["organization"]["slug"] == key.organization.slug


def test_the_cached_entry_holds_no_secret_and_no_password_hash():
    user = make_user()
    user.set_password("correct horse battery staple")
    user.save()
    org, _ = make_org(owner=user)
    secret, key = make_key(org=org, user=user)
    warm(secret)
    flat = repr(cached(secret))
    assert secret not in flat and secret.split("_", 2)[2] not in flat
    assert User.objects.get(pk=user.pk).password not in flat


def test_a_wrong_secret_is_not_served_from_the_cache():
    secret, key = make_key()
    warm(secret)
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    assert me(forged).status_code == 401


def test_revoked_by_the_service_fails_on_the_next_request():
    secret, key = make_key()
    warm(secret)
    api_key_revoke(key=key, actor=actor_for_key(key))
    response = me(secret)
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


def test_revoked_through_the_api_fails_on_the_next_request():
    secret, key = make_key()
    client = api(secret)
    second = client.post("/api/keys", {"name": "temp"}, format="json").json()
    warm(second["key"])
    assert client.delete(f"/api/keys/{second['id']}").status_code == 204
    assert me(second["key"]).status_code == 401


def test_a_deleted_key_fails_on_the_next_request():
    secret, key = make_key()
    warm(secret)
    ApiKey.objects.get(pk=key.pk).delete()
    assert me(secret).status_code == 401


def test_a_removed_member_fails_on_the_next_request():
    org, owner = make_org()
    owner_secret, _ = make_key(org=org, user=owner)
    member_secret, member_key = make_key(org=org)
    warm(member_secret)
    membership = Membership.objects.get(user=member_key.user, organization=org)
    membership_remove(actor=actor_for_member(user=owner, organization=org), membership=membership)
    assert me(member_secret).status_code == 401
    assert me(owner_secret).status_code == 200


def test_a_membership_deleted_outside_the_service_fails_on_the_next_request():
    """Even a membership row deleted directly (a shell, a cascade) stops its keys at once."""
    org, _ = make_org()
    member_secret, member_key = make_key(org=org)
    warm(member_secret)
    Membership.objects.get(user=member_key.user, organization=org).delete()
    response = me(member_secret)
    assert response.status_code == 401
    assert "no longer a member" in response.json()["message"]


def test_a_role_change_by_staff_shows_on_the_next_request():
    org, owner = make_org()
    owner_secret, _ = make_key(org=org, user=owner)
    second_secret, second_key = make_key(org=org)  # a new plain member's key
    second_owner = second_key.user
    staff = make_user(is_staff=True)
    membership = Membership.objects.get(user=second_owner, organization=org)
    membership_role_set(actor=staff, membership=membership, role=Membership.Role.OWNER)
    cache.delete(_cache_key(api_key_hash(second_secret)))  # its tombstone expired
    assert warm(second_secret)["role"] == Membership.Role.OWNER
    membership_role_set(actor=staff, membership=membership, role=Membership.Role.MEMBER)
    assert me(second_secret).json()["role"] == Membership.Role.MEMBER
    # Owners only: the demoted member's key may no longer list every key.
    assert api(second_secret).get("/api/keys?all=true").status_code == 403


def test_a_disabled_user_fails_on_the_next_request():
    """The admin's user page saves the user directly (no service): still at once."""
    secret, key = make_key()
    warm(secret)
    user = User.objects.get(pk=key.user_id)
    user.is_active = False
    user.save()
    assert me(secret).status_code == 401


def test_a_deleted_user_fails_on_the_next_request():
    secret, key = make_key()
    warm(secret)
    User.objects.get(pk=key.user_id).delete()
    assert me(secret).status_code == 401


def test_an_upload_access_decision_shows_on_the_next_request():
    org, owner = make_org(uploads=True)
    secret, _ = make_key(org=org, user=owner)
    assert warm(secret)["canUpload"] is True
    staff = make_user(is_staff=True)
    organization_decide_upload_access(organization=org, approve=False, actor=staff)
    assert me(secret).json()["canUpload"] is False


def test_a_sign_in_does_not_invalidate():
    """Stamping last_login (every web sign-in) changes nothing a key authentication reads."""
    secret, key = make_key()
    warm(secret)
    user = User.objects.get(pk=key.user_id)
    user.save(update_fields=["last_login"])
    assert cached(secret) not in (None, TOMBSTONE)


def test_an_answer_read_before_a_revocation_is_not_put_back():
    """A request that read the key from the database just before the revocation committed
    stores its answer after the tombstone: the tombstone wins."""
    secret, key = make_key()
    stale = ApiKey.objects.select_related("user", "organization").get(pk=key.pk)
    stale.member_role = Membership.Role.OWNER  # what that request read: a valid key
    api_key_revoke(key=key, actor=actor_for_key(key))
    key_remember(api_key_hash(secret), stale)  # that request, late
    assert cached(secret) == TOMBSTONE
    assert me(secret).status_code == 401


def test_cache_unreachable_falls_back_to_the_database(settings):
    """Authentication reads the database, and a revocation still happens (and holds)."""
    secret, key = make_key()
    revoked_secret, revoked_key = make_key()
    warm(secret)
    warm(revoked_secret)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # discard port: nothing answers
        }
    }
    api_key_revoke(key=revoked_key, actor=actor_for_key(revoked_key))
    assert ApiKey.objects.get(pk=revoked_key.pk).revoked_at is not None
    assert me(secret).status_code == 200
    assert me(revoked_secret).status_code == 401


def test_a_cache_configured_otherwise_is_read_through_django(settings):
    """Entries are read straight from Redis only when the cache is Django's RedisCache on one
    server with its default serializer; any other configuration reads through `cache.get`, and
    a cached key still authenticates without a query."""
    secret, key = make_key()
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "OPTIONS": {"serializer": "django.core.cache.backends.redis.RedisSerializer"},
        }
    }
    warm(secret)
    with CaptureQueriesContext(connection) as queries:
        assert me(secret).status_code == 200
    assert len(queries) == 0
    api_key_revoke(key=key, actor=actor_for_key(key))
    assert me(secret).status_code == 401
