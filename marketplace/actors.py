"""Who acts: one small immutable value that every service takes.

The API builds an `Actor` from the Bearer key (marketplace.authentication), the web builds it from
the session and the organisation the user picked (`actor_for_member`). Both then call the same
services, so a rule lives in one place. Rules about keys stay about keys: `api_key` is set only
when the request came with one.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.models import ApiKey, Membership, Organization, User
from marketplace.services.errors import Forbidden

# The session key of the organisation a signed-in browser user acts for (the web's switcher sets
# it; the web middleware and the API's session authentication read it).
ACTIVE_ORGANIZATION_SESSION_KEY = "active_organization_id"


class NotAMember(Forbidden):
    """The user is not (or no longer) a member of the organisation they try to act for."""

    code = "not_a_member"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user, for an organisation (with their role in it), through an API key or a
    browser session. A person acting for themselves only (a contributor's own payout account)
    is `Actor.person(user)`: no organisation, no role, owner of nothing."""

    user: User
    organization: Organization | None
    role: str  # Membership.Role, or "" for a person acting for themselves
    api_key: ApiKey | None = None

    @classmethod
    def person(cls, user: User) -> Actor:
        return cls(user=user, organization=None, role="")

    @property
    def is_owner(self) -> bool:
        return self.role == Membership.Role.OWNER

    @property
    def can_upload(self) -> bool:
        """The organisation is approved for uploads and, when acting through a key, the key was
        created after that approval: a key leaked earlier never silently gains write rights.
        A browser session of a member of an approved organisation can upload."""
        org = self.organization
        if org is None:
            return False
        if (
            org.upload_access != Organization.UploadAccess.APPROVED
            or org.upload_approved_at is None
        ):
            return False
        if self.api_key is None:
            return True
        return self.api_key.may_upload and self.api_key.created_at >= org.upload_approved_at

    @classmethod
    def for_key(cls, key: ApiKey, *, role: str) -> Actor:
        """The actor of an authenticated key (its membership role already checked)."""
        return cls(user=key.user, organization=key.organization, role=role, api_key=key)


def actor_for_member(*, user: User, organization: Organization) -> Actor:
    """The actor of a signed-in user acting for `organization`; `NotAMember` when they are not a
    member (any more). One query."""
    role = (
        Membership.objects.filter(user=user, organization=organization)
        .values_list("role", flat=True)
        .first()
    )
    if role is None or not user.is_active:
        raise NotAMember(f"{user} is not a member of {organization}")
    return Actor(user=user, organization=organization, role=role)


def actor_for_session(*, user: User, session) -> Actor | None:
    """The actor of a signed-in browser user: acting for the organisation picked in this session
    (or, if none was picked, their only or first organisation). None when they belong to none;
    a stale pick (membership removed) falls back the same way and never acts."""
    if not user.is_authenticated or not user.is_active:
        return None
    memberships = Membership.objects.filter(user=user).select_related("organization")
    picked = session.get(ACTIVE_ORGANIZATION_SESSION_KEY)
    membership = memberships.filter(organization_id=picked).first() if picked else None
    if membership is None:
        membership = memberships.order_by("created_at", "pk").first()
        if membership is None:
            session.pop(ACTIVE_ORGANIZATION_SESSION_KEY, None)
            return None
        session[ACTIVE_ORGANIZATION_SESSION_KEY] = membership.organization_id
    return Actor(user=user, organization=membership.organization, role=membership.role)


def actor_for_key(key: ApiKey) -> Actor:
    """The actor of a key looked up outside a request (commands, demo data, tests)."""
    actor = actor_for_member(user=key.user, organization=key.organization)
    return Actor(user=actor.user, organization=actor.organization, role=actor.role, api_key=key)
