"""Test data built through the services, the way production builds it."""

import itertools

from marketplace.services.identity import (
    api_key_create,
    membership_add,
    organization_create,
    organization_decide_upload_access,
    user_create,
)

_seq = itertools.count(1)


def make_user(**kwargs):
    n = next(_seq)
    return user_create(
        username=kwargs.pop("username", f"user{n}"), email=f"user{n}@example.com", **kwargs
    )


def make_org(*, name=None, owner=None, uploads=False):
    owner = owner or make_user()
    org = organization_create(name=name or f"Org {next(_seq)}", owner=owner)
    if uploads:
        org = organization_decide_upload_access(organization=org, approve=True, actor=None)
    return org, owner


def make_key(*, org=None, user=None, uploads=False):
    """A key for a (new) organisation; returns (raw secret, ApiKey)."""
    if org is None:
        org, user = make_org(uploads=uploads)
    elif user is None:
        user = make_user()
        membership_add(organization=org, user=user)
    issued = api_key_create(user=user, organization=org)
    return issued.secret, issued.key
