"""Bearer API-key authentication for the API: `request.auth` is the `Actor` of the key."""

from datetime import timedelta

from django.db.models import OuterRef
from django.utils import timezone
from rest_framework import authentication, exceptions

from marketplace.actors import Actor, actor_for_session
from marketplace.models import ApiKey, Membership
from marketplace.services.identity import api_key_matches, api_key_parse

# last_used_at is refreshed at most this often, so authentication stays a read on hot paths.
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
        prefix, whole = parsed
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
        if key is None or not api_key_matches(key, whole):
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
        return key.user, Actor.for_key(key, role=key.member_role)

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
