"""Bearer API-key authentication for the API: `request.auth` is the `Actor` of the key.

A key that authenticated is remembered in the cache (Redis) for API_AUTH_CACHE_SECONDS,
under the SHA-256 of the presented secret, so the hot endpoints skip the database lookup. The
entry is a snapshot of what authentication read (the key, its user without the password hash,
the organisation, the member's role). Whatever authentication depends on invalidates it: every
save or delete of the key, its user, their membership or the organisation (receivers in
marketplace.services.identity, any code path; marketplace/key_cache.py) writes a tombstone over the entries of the keys
concerned, in the writing transaction and again after its commit, so a revoked key fails on the
very next request. Entries are only ever added where no tombstone is (`cache.add`): a request
that read the database just before a revocation cannot put the old answer back."""

import hmac
from datetime import timedelta

from django.db.models import OuterRef
from django.utils import timezone
from rest_framework import authentication, exceptions

from marketplace.actors import Actor, actor_for_session
from marketplace.key_cache import TOMBSTONE, key_cached, key_from_snapshot, key_remember
from marketplace.models import ApiKey, Membership
from marketplace.services.identity import api_key_hash, api_key_parse

# last_used_at is refreshed at most this often, so authentication stays a read on hot paths.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _key_from_database(prefix: str, digest: str) -> ApiKey:
    # The membership is checked in the same query: a user removed from the organisation
    # can act for it in no way, even with a key that somehow escaped revocation.
    key = (
        ApiKey.objects.select_related("user", "organization")
        .annotate(
            member_role=Membership.objects.filter(
                user=OuterRef("user"), organization=OuterRef("organization")
            ).values("role")[:1]
        )
        .filter(prefix=prefix)
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        raise exceptions.AuthenticationFailed("Invalid API key.")
    if key.revoked_at is not None:
        raise exceptions.AuthenticationFailed("This API key has been revoked.")
    if not key.user.is_active:
        raise exceptions.AuthenticationFailed("The user of this API key is disabled.")
    if key.member_role is None:
        raise exceptions.AuthenticationFailed(
            "The user of this API key is no longer a member of its organisation."
        )
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        raw = raw.strip()
        if not raw:
            raise exceptions.AuthenticationFailed("No API key was given after 'Bearer'.")
        parsed = api_key_parse(raw)
        if parsed is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        digest = api_key_hash(parsed[1])
        entry = key_cached(digest)
        if entry is not None and entry != TOMBSTONE:
            # Stored only after this very secret (same SHA-256) passed every check below.
            key, role = key_from_snapshot(entry)
        else:
            key = _key_from_database(parsed[0], digest)
            role = key.member_role
            if entry is None:
                key_remember(digest, key)
        return key.user, Actor.for_key(key, role=role)

    def authenticate_header(self, request):
        # Without this DRF turns 401 into 403, and the SDK would raise PermissionError.
        return 'Bearer realm="api"'


class SessionActorAuthentication(authentication.SessionAuthentication):
    """The browser's session (the web uploader calls the upload API): the signed-in user acting
    for the organisation picked in the session, CSRF enforced like any session write. A user
    who belongs to no organisation is not authenticated here."""

    def authenticate(self, request):
        result = super().authenticate(request)  # (user, None) or None; CSRF checked
        if result is None:
            return None
        actor = actor_for_session(user=result[0], session=request._request.session)
        if actor is None:
            return None
        return actor.user, actor
