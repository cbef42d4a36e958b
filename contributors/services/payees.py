"""Payees: whoever can be owed money, an organisation or a contributor. One payee per party,
created on first need and never deleted (ledger accounts point at it)."""

from contributors.models import Contributor, Payee
from marketplace.actors import Actor
from marketplace.models import Organization
from marketplace.services.errors import Forbidden


def organization_owner_check(*, actor: Actor, organization: Organization, action: str) -> None:
    """Money settings of an organisation (shares, payout account) are for its owners only."""
    if actor.organization.pk != organization.pk or not actor.is_owner:
        raise Forbidden(f"Only an owner of the organisation can {action}.", code="owner_only")


def payee_for_organization(organization: Organization) -> Payee:
    """The organisation's payee, created if it has none yet (race-safe: the one-to-one column
    is unique, and get_or_create re-reads after a concurrent insert)."""
    payee, _ = Payee.objects.get_or_create(
        organization=organization, defaults={"kind": Payee.Kind.ORGANIZATION}
    )
    return payee


def payee_for_contributor(contributor: Contributor) -> Payee:
    """The contributor's payee, created if it has none yet. Earnings accrue on it whether or not
    the contributor has claimed an account, so claiming moves nothing."""
    payee, _ = Payee.objects.get_or_create(
        contributor=contributor, defaults={"kind": Payee.Kind.CONTRIBUTOR}
    )
    return payee
