"""Reads for the pages that show share tables: a dataset's current table with where each
contributor's invitation stands, and a staged draft's lines, both bounded for tables of many
thousands of lines."""

from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

from contributors.models import Contributor, Payee, ShareLine, ShareTable, ShareTableDraft
from contributors.services.invitations import invite_ttl
from contributors.services.shares import basis_points_format
from marketplace.models import Dataset

CLAIMED = "claimed"
INVITED = "invited"
EXPIRED = "invitation expired"
NOT_INVITED = "not invited yet"


@dataclass(frozen=True)
class ShareRow:
    organization: bool
    email: str
    name: str
    amount: str  # "40.00" (percentage) or "12" (weight)
    status: str  # "" for the organisation and for staged lines


@dataclass(frozen=True)
class CurrentShares:
    table: ShareTable
    rows: list[ShareRow]  # the first `limit` lines
    total_lines: int
    counts: dict[str, int]  # contributors by invitation status


def amount_text(basis: str, weight: int) -> str:
    return basis_points_format(weight) if basis == ShareTable.Basis.PERCENTAGE else str(weight)


def invitation_status(contributor: Contributor, *, organization_id: int, now=None) -> str:
    """Where the organisation's own invitation stands: claimed (linked to an account through its
    invitation) / invited (its live invitation was e-mailed) / invitation expired / not invited
    yet (queued, the e-mail could not be sent, or only another organisation invited or was
    claimed: what another organisation's invitation did is never shown; security finding 7)."""
    if contributor.user_id is not None:
        return CLAIMED if contributor.claimed_via_id == organization_id else NOT_INVITED
    if contributor.invited_at is None or contributor.invited_by_id != organization_id:
        return NOT_INVITED
    if contributor.invited_at < (now or timezone.now()) - invite_ttl():
        return EXPIRED
    return INVITED


def share_table_latest(dataset: Dataset) -> ShareTable | None:
    """The dataset's current table, or None when its shares were never set (a read: unlike
    `share_table_current`, it does not create the default)."""
    return ShareTable.objects.filter(dataset=dataset).order_by("-version").first()


def current_shares(dataset: Dataset, *, limit: int) -> CurrentShares | None:
    """The dataset's current table, its first `limit` lines with each contributor's invitation
    status, and how many contributors are in each status. Three queries whatever the size."""
    table = share_table_latest(dataset)
    if table is None:
        return None
    lines = (
        ShareLine.objects.filter(table=table)
        .select_related("payee__organization", "payee__contributor")
        .order_by("pk")[:limit]
    )
    now = timezone.now()
    org_id = dataset.organization_id
    rows = []
    for line in lines:
        payee = line.payee
        if payee.kind == Payee.Kind.ORGANIZATION:
            rows.append(
                ShareRow(
                    True, "", payee.organization.name, amount_text(table.basis, line.weight), ""
                )
            )
        else:
            contributor = payee.contributor
            rows.append(
                ShareRow(
                    False,
                    contributor.email,
                    line.name,
                    amount_text(table.basis, line.weight),
                    invitation_status(contributor, organization_id=org_id, now=now),
                )
            )
    live_since = now - invite_ttl()
    contributor_lines = Q(payee__kind=Payee.Kind.CONTRIBUTOR)
    user = "payee__contributor__user"
    invited_at = "payee__contributor__invited_at"
    # Only this organisation's invitations and claims count; the rest is "not invited yet".
    ours = Q(**{f"{user}__isnull": True, "payee__contributor__invited_by": org_id})
    counts = ShareLine.objects.filter(table=table).aggregate(
        total=Count("pk"),
        contributors=Count("pk", filter=contributor_lines),
        claimed=Count(
            "pk",
            filter=contributor_lines
            & Q(**{f"{user}__isnull": False, "payee__contributor__claimed_via": org_id}),
        ),
        invited=Count(
            "pk", filter=contributor_lines & ours & Q(**{f"{invited_at}__gte": live_since})
        ),
        expired=Count(
            "pk", filter=contributor_lines & ours & Q(**{f"{invited_at}__lt": live_since})
        ),
    )
    counts["not_invited"] = (
        counts["contributors"] - counts["claimed"] - counts["invited"] - counts["expired"]
    )
    return CurrentShares(
        table=table,
        rows=rows,
        total_lines=counts.pop("total"),
        counts={
            CLAIMED: counts["claimed"],
            INVITED: counts["invited"],
            EXPIRED: counts["expired"],
            NOT_INVITED: counts["not_invited"],
        },
    )


def draft_rows(draft: ShareTableDraft, *, organization_name: str, limit: int) -> list[ShareRow]:
    """The first `limit` lines of a staged draft, for display."""
    return [
        ShareRow(
            line["organization"],
            line["email"],
            organization_name if line["organization"] else line["name"],
            amount_text(draft.basis, line["weight"]),
            "",
        )
        for line in draft.lines[:limit]
    ]


def table_wire_lines(table: ShareTable) -> list[dict]:
    """A dataset's table in the shape `shares_parse` takes (to start a draft from it)."""
    key = "percent" if table.basis == ShareTable.Basis.PERCENTAGE else "weight"
    out = []
    for line in (
        ShareLine.objects.filter(table=table)
        .select_related("payee__contributor")
        .order_by("pk")
        .iterator(chunk_size=5_000)
    ):
        amount = amount_text(table.basis, line.weight)
        if line.payee.kind == Payee.Kind.ORGANIZATION:
            out.append({"organization": True, key: amount})
        else:
            out.append({"email": line.payee.contributor.email, "name": line.name, key: amount})
    return out
