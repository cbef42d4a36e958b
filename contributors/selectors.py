"""Reads of the contributors app."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import OuterRef, Subquery, Sum

from contributors.models import Contributor, Payee, PayoutAccount, ShareLine, ShareTable
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


@dataclass(frozen=True)
class CurrentShare:
    """A payee's line in the current share table of one dataset."""

    dataset: Dataset
    version: int  # of the share table
    basis: str  # ShareTable.Basis
    weight: int  # basis points (percentage basis) or the line's weight
    total_weight: int  # of every line of the table

    @property
    def percent(self) -> Decimal:
        """The share of the base price, to two decimals (exact on a percentage basis)."""
        return (Decimal(self.weight) * 100 / Decimal(self.total_weight)).quantize(Decimal("0.01"))


def payee_current_shares(payee: Payee) -> list[CurrentShare]:
    """Each dataset in whose current (latest) share table the payee has a line, with that line,
    by dataset name. One query, whatever the number of datasets and versions."""
    latest = ShareTable.objects.filter(dataset=OuterRef("table__dataset")).order_by("-version")
    total = (
        ShareLine.objects.filter(table=OuterRef("table"))
        .values("table")
        .annotate(total=Sum("weight"))
        .values("total")
    )
    lines = (
        ShareLine.objects.filter(payee=payee, table=Subquery(latest.values("pk")[:1]))
        .annotate(total_weight=Subquery(total))
        .select_related("table__dataset__organization")
        .order_by("table__dataset__name", "pk")
    )
    return [
        CurrentShare(
            line.table.dataset, line.table.version, line.table.basis, line.weight, line.total_weight
        )
        for line in lines
    ]
