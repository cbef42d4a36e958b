"""Reads of the contributors app."""

from contributors.models import Contributor, PayoutAccount, ShareLine, ShareTable
from marketplace.models import Dataset, Organization, User
from marketplace.services.errors import NotFound


def share_table_lines(table: ShareTable) -> list[ShareLine]:
    """The lines of a table with their payee's organisation or contributor, in one query."""
    return list(
        ShareLine.objects.filter(table=table)
        .select_related("payee__organization", "payee__contributor")
        .order_by("pk")
    )


def dataset_of_organization(*, organization: Organization, dataset_id: str) -> Dataset:
    """A dataset by public id, only within `organization`: another organisation's dataset is
    404 exactly like an unknown one (no existence leak)."""
    dataset = (
        Dataset.objects.select_related("organization")
        .filter(public_id=dataset_id, organization=organization)
        .first()
    )
    if dataset is None:
        raise NotFound(f"Dataset {dataset_id} not found.")
    return dataset


def contributor_of_user(user: User) -> Contributor:
    """The contributor profile the user claimed; 404 if none."""
    contributor = Contributor.objects.filter(user=user).select_related("payee").first()
    if contributor is None:
        raise NotFound(
            "You have not claimed a contributor profile; use the link in your invitation.",
            code="not_a_contributor",
        )
    return contributor


def payout_account_of_organization(organization: Organization) -> PayoutAccount | None:
    return PayoutAccount.objects.filter(payee__organization=organization).first()


def payout_account_of_contributor(contributor: Contributor) -> PayoutAccount | None:
    return PayoutAccount.objects.filter(payee__contributor=contributor).first()
