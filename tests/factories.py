"""Test data built through the services, the way production builds it.

The factories declare the defaults (unique names, who owns what); `_create` hands them to the
identity services, so no row is written behind the services' backs. `make_user`, `make_org` and
`make_key` are the short forms most tests use."""

import factory

from marketplace.actors import actor_for_member
from marketplace.models import Membership, Organization, User
from marketplace.services.identity import (
    IssuedKey,
    api_key_create,
    membership_add,
    organization_create,
    organization_decide_upload_access,
    user_create,
)


class UserFactory(factory.Factory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = None
    is_staff = False

    @classmethod
    def _create(cls, model_class, **kwargs):
        return user_create(**kwargs)


class OrganizationFactory(factory.Factory):
    """An organisation with its first owner; `uploads=True` also approves it for uploads (the
    staff decision, stamped now: keys created afterwards may upload)."""

    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    owner = factory.SubFactory(UserFactory)
    uploads = False

    @classmethod
    def _create(cls, model_class, *, name, owner, uploads):
        org = organization_create(name=name, owner=owner)
        if uploads:
            org = organization_decide_upload_access(organization=org, approve=True, actor=None)
        return org


class MembershipFactory(factory.Factory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.MEMBER

    @classmethod
    def _create(cls, model_class, **kwargs):
        return membership_add(**kwargs)


class ApiKeyFactory(factory.Factory):
    """A key issued to `user` (a member of `organization`; by default a new user who owns a new
    organisation). Returns the `IssuedKey`: the ApiKey and its secret, which is shown once."""

    class Meta:
        model = IssuedKey

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory, owner=factory.SelfAttribute("..user"))
    name = ""

    @classmethod
    def _create(cls, model_class, *, user, organization, name):
        actor = actor_for_member(user=user, organization=organization)
        return api_key_create(actor=actor, name=name)


def make_user(**kwargs) -> User:
    return UserFactory(**kwargs)


def make_org(*, name=None, owner=None, uploads=False) -> tuple[Organization, User]:
    owner = owner or UserFactory()
    fields = {"name": name} if name else {}
    return OrganizationFactory(owner=owner, uploads=uploads, **fields), owner


def make_key(*, org=None, user=None, uploads=False):
    """A key for a (new) organisation; returns (raw secret, ApiKey). With `org` and no `user`,
    the key belongs to a new plain member of `org`."""
    if org is None:
        issued = ApiKeyFactory(user=user or UserFactory(), organization__uploads=uploads)
    else:
        if user is None:
            user = MembershipFactory(organization=org).user
        issued = ApiKeyFactory(user=user, organization=org)
    return issued.secret, issued.key
