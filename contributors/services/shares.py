"""Revenue-share tables of datasets: parsing and validating what an owner enters, versioning,
and the default table (everything to the owning organisation).

A table is never edited. Saving a different table creates the next version; saving the same
table again is a no-op that returns the current version, so a PUT can be retried safely. Each
sale records the version that applied (the ledger calls `share_table_current`)."""

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from contributors.models import Contributor, Payee, ShareLine, ShareTable
from contributors.services.invitations import contributors_needing_invitation
from contributors.services.payees import organization_owner_check, payee_for_organization
from marketplace.actors import Actor
from marketplace.models import Dataset
from marketplace.services.audit import audit_record
from marketplace.services.errors import Invalid
from marketplace.tasking import task_enqueue

TOTAL_BASIS_POINTS = 10_000  # 100.00 %
MAX_WEIGHT = 10**9
NAME_MAX = 200
LINE_KEYS = {"organization", "email", "name", "percent", "weight"}
# RFC 5321 caps a forward path at 256 octets, so an address at 254; our columns hold 254.
EMAIL_MAX_LENGTH = 254
_DIGITS = re.compile(r"^\s*\d+\s*$")
_CHUNK = 5_000

logger = logging.getLogger(__name__)

# contributors.tasks.contributor_invite, enqueued by name (marketplace.tasking).
INVITE_TASK = "contributors.tasks.contributor_invite"


@dataclass(frozen=True)
class ShareSpec:
    """One parsed line: the owning organisation, or a contributor by (normalised) e-mail."""

    organization: bool
    email: str
    name: str
    weight: int  # basis points for the percentage basis


def basis_points_format(points: int) -> str:
    """10_000 -> "100.00"."""
    sign = "-" if points < 0 else ""
    points = abs(points)
    return f"{sign}{points // 100}.{points % 100:02d}"


def _percent_to_basis_points(value, where: str) -> int:
    if isinstance(value, bool) or value is None:
        raise Invalid(f'{where}.percent: a percentage like "40.00" is required.')
    try:
        if isinstance(value, int):
            amount = Decimal(value)
        elif isinstance(value, float):
            # repr() is the shortest string that reads back as this float: 33.33 -> "33.33".
            amount = Decimal(repr(value))
        elif isinstance(value, str):
            amount = Decimal(value.strip())
        else:
            raise InvalidOperation
    except InvalidOperation:
        raise Invalid(f'{where}.percent: {value!r} is not a number like "40.00".') from None
    if not amount.is_finite():
        raise Invalid(f'{where}.percent: {value!r} is not a number like "40.00".')
    if amount <= 0:
        raise Invalid(f"{where}.percent: must be more than 0 (got {value}).")
    if amount > 100:
        raise Invalid(f"{where}.percent: must be at most 100 (got {value}).")
    scaled = amount * 100
    if scaled != scaled.to_integral_value():
        raise Invalid(f"{where}.percent: at most 2 decimals are allowed (got {value}).")
    return int(scaled)


def _weight(value, where: str) -> int:
    if isinstance(value, str) and _DIGITS.match(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{where}.weight: must be a positive whole number (got {value!r}).")
    if value <= 0:
        raise Invalid(f"{where}.weight: must be a positive whole number (got {value}).")
    if value > MAX_WEIGHT:
        raise Invalid(f"{where}.weight: must be at most {MAX_WEIGHT:,} (got {value}).")
    return value


def _email(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{where}.email: an e-mail address is required.")
    email = value.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise Invalid(f"{where}.email: {value!r} is not a valid e-mail address.") from None
    if len(email) > EMAIL_MAX_LENGTH:  # valid syntax up to 320, but no address is longer
        raise Invalid(f"{where}.email: at most {EMAIL_MAX_LENGTH} characters.")
    return email


def shares_parse(*, basis, shares) -> tuple[str, list[ShareSpec]]:
    """Validate a share table as entered. Rules: basis is "percentage" (each line a `percent`
    with at most 2 decimals, > 0, summing to exactly 100) or "weight" (each line a positive
    whole `weight`, split pro rata); each line is either `"organization": true` (the owning
    organisation) or a contributor's `email`; no party twice; at least one line."""
    if basis not in ShareTable.Basis.values:
        raise Invalid(f'basis: must be "percentage" or "weight" (got {basis!r}).')
    if not isinstance(shares, list):
        raise Invalid("shares: must be a list of shares.")
    if not shares:
        raise Invalid("shares: at least one share is needed.")
    max_lines = settings.CONTRIBUTOR_SHARES_MAX_LINES
    if len(shares) > max_lines:
        raise Invalid(f"shares: at most {max_lines:,} shares (got {len(shares):,}).")

    amount_key = "percent" if basis == ShareTable.Basis.PERCENTAGE else "weight"
    other_key = "weight" if amount_key == "percent" else "percent"
    specs: list[ShareSpec] = []
    seen: dict[str, int] = {}
    for i, line in enumerate(shares):
        where = f"shares[{i}]"
        if not isinstance(line, dict):
            raise Invalid(f"{where}: must be an object.")
        unknown = sorted(set(line) - LINE_KEYS)
        if unknown:
            raise Invalid(f"{where}: unknown field {unknown[0]!r}.")
        if other_key in line:
            raise Invalid(f'{where}: use "{amount_key}", not "{other_key}", with basis "{basis}".')
        is_org = line.get("organization", False)
        if not isinstance(is_org, bool):
            raise Invalid(f"{where}.organization: must be true or false.")
        if is_org == ("email" in line):
            raise Invalid(f'{where}: give either "organization": true or an "email".')
        name = line.get("name", "")
        if name is None:
            name = ""
        if not isinstance(name, str) or len(name) > NAME_MAX:
            raise Invalid(f"{where}.name: must be text of at most {NAME_MAX} characters.")
        email = "" if is_org else _email(line["email"], where)
        party = "the organisation" if is_org else email
        if party in seen:
            raise Invalid(
                f"{where}: {party} appears more than once (also shares[{seen[party]}]).",
                code="duplicate_share",
            )
        seen[party] = i
        if amount_key not in line:
            raise Invalid(f'{where}.{amount_key}: required with basis "{basis}".')
        amount = (
            _percent_to_basis_points(line["percent"], where)
            if amount_key == "percent"
            else _weight(line["weight"], where)
        )
        specs.append(ShareSpec(organization=is_org, email=email, name=name.strip(), weight=amount))

    if basis == ShareTable.Basis.PERCENTAGE:
        total = sum(spec.weight for spec in specs)
        if total != TOTAL_BASIS_POINTS:
            raise Invalid(
                f"shares: percentages sum to {basis_points_format(total)}, not 100.",
                code="shares_not_100",
            )
    return basis, specs


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def contributor_payees(specs: list[ShareSpec]) -> dict[str, Payee]:
    """Find or create the contributors (by e-mail) and their payees, set-based: a table may name
    many thousands of contributors. Inserts ignore conflicts and everything is re-read, so a
    concurrent save of another dataset's table naming the same person is harmless."""
    names = {s.email: s.name for s in specs if not s.organization}
    emails = sorted(names)
    if not emails:
        return {}
    contributors: dict[str, Contributor] = {}
    for chunk in _chunks(emails):
        contributors.update(
            (c.email, c) for c in Contributor.objects.filter(email__in=chunk).only("pk", "email")
        )
    missing = [Contributor(email=e, name=names[e]) for e in emails if e not in contributors]
    if missing:
        Contributor.objects.bulk_create(missing, batch_size=_CHUNK, ignore_conflicts=True)
        for chunk in _chunks([c.email for c in missing]):
            contributors.update(
                (c.email, c)
                for c in Contributor.objects.filter(email__in=chunk).only("pk", "email")
            )
    by_contributor: dict[int, Payee] = {}
    ids = sorted(c.pk for c in contributors.values())
    for chunk in _chunks(ids):
        by_contributor.update(
            (p.contributor_id, p) for p in Payee.objects.filter(contributor_id__in=chunk)
        )
    absent = [i for i in ids if i not in by_contributor]
    if absent:
        Payee.objects.bulk_create(
            [Payee(kind=Payee.Kind.CONTRIBUTOR, contributor_id=i) for i in absent],
            batch_size=_CHUNK,
            ignore_conflicts=True,
        )
        for chunk in _chunks(absent):
            by_contributor.update(
                (p.contributor_id, p) for p in Payee.objects.filter(contributor_id__in=chunk)
            )
    return {email: by_contributor[c.pk] for email, c in contributors.items()}


def share_table_key(basis: str, lines: Iterable[tuple[int, int, str]]) -> tuple:
    """What makes two tables the same: basis and the set of (payee, weight, name); line order
    is presentation only."""
    return basis, tuple(sorted(lines))


def dataset_lock(dataset: Dataset) -> Dataset:
    """Serialise share-table versions of one dataset. FOR NO KEY UPDATE: it does not block rows
    that merely reference the dataset (orders, grants) from being inserted."""
    return (
        Dataset.objects.select_for_update(no_key=True)
        .select_related("organization")
        .get(pk=dataset.pk)
    )


def share_table_latest(dataset: Dataset) -> ShareTable | None:
    return ShareTable.objects.filter(dataset=dataset).order_by("-version").first()


def share_table_current(dataset: Dataset) -> ShareTable:
    """The share table that applies to a sale of `dataset` now: its latest version, or, for a
    dataset whose shares were never set, version 1 created on the spot (100 % to the owning
    organisation). A service, since it may write. Called by the ledger's sale_post, which
    records the version it used."""
    table = ShareTable.objects.filter(dataset=dataset).order_by("-version").first()
    if table is not None:
        return table
    return share_table_create_default(dataset=dataset)


def share_table_write(*, dataset: Dataset, basis: str, wanted: list, created_by):
    """The next version of the (locked) dataset's share table with these (payee, spec) lines,
    unless it equals the table in force. Returns (table, the table that was in force, created).
    Callers audit and invite; one writer for shares set by an owner and for staged shares."""
    current = share_table_latest(dataset)
    if current is not None and share_table_key(
        current.basis, current.lines.values_list("payee_id", "weight", "name")
    ) == share_table_key(basis, ((p.pk, s.weight, s.name) for p, s in wanted)):
        return current, current, False
    table = ShareTable.objects.create(
        dataset=dataset,
        version=current.version + 1 if current else 1,
        basis=basis,
        created_by=created_by,
    )
    ShareLine.objects.bulk_create(
        [ShareLine(table=table, payee=p, weight=s.weight, name=s.name) for p, s in wanted],
        batch_size=_CHUNK,
    )
    return table, current, True


@transaction.atomic
def share_table_set(*, actor: Actor, dataset: Dataset, basis, shares) -> tuple[ShareTable, bool]:
    """Save the dataset's revenue shares as entered by an owner of its organisation. Returns
    (table, created): a table equal to the current one creates nothing and returns the current
    version. Contributors are found or created by e-mail, each with a payee; those without an
    account and without a live invitation are invited after commit."""
    organization_owner_check(
        actor=actor, organization=dataset.organization, action="change revenue shares"
    )
    basis, specs = shares_parse(basis=basis, shares=shares)
    dataset = dataset_lock(dataset)
    org_payee = payee_for_organization(dataset.organization)
    by_email = contributor_payees(specs)
    wanted = [(org_payee if spec.organization else by_email[spec.email], spec) for spec in specs]
    contributor_ids = [payee.contributor_id for payee, _ in wanted if payee.contributor_id]
    table, current, created = share_table_write(
        dataset=dataset, basis=basis, wanted=wanted, created_by=actor.user
    )
    if not created:
        invite_after_commit(dataset=dataset, contributor_ids=contributor_ids)
        return table, False
    audit_record(
        actor=actor,
        organization=dataset.organization,
        action="share_table.create",
        obj=table,
        data={
            "dataset": dataset.public_id,
            "version": table.version,
            "previousVersion": current.version if current else None,
            "basis": basis,
            "lines": len(wanted),
        },
    )
    invite_after_commit(dataset=dataset, contributor_ids=contributor_ids)
    return table, True


def invite_after_commit(*, dataset: Dataset, contributor_ids: list[int]) -> None:
    pending = contributors_needing_invitation(contributor_ids=contributor_ids)
    if not pending:
        return
    dataset_pk = dataset.pk

    def enqueue():
        for contributor_id in pending:
            try:
                task_enqueue(INVITE_TASK, contributor_id, dataset_pk)
            except Exception:
                logger.exception("Could not queue the invitation of contributor %s", contributor_id)

    # robust: the table is committed whatever happens to the queue; a contributor left without
    # an invitation gets one the next time a table naming them is saved.
    transaction.on_commit(enqueue, robust=True)


def share_table_create_default(*, dataset: Dataset) -> ShareTable:
    """Version 1 of a dataset that never had shares set: 100 % to the owning organisation.
    Takes the dataset lock and re-checks, so concurrent first sales create it once."""
    with transaction.atomic():
        dataset = dataset_lock(dataset)
        current = share_table_latest(dataset)
        if current is not None:
            return current
        table = ShareTable.objects.create(
            dataset=dataset, version=1, basis=ShareTable.Basis.PERCENTAGE
        )
        ShareLine.objects.create(
            table=table,
            payee=payee_for_organization(dataset.organization),
            weight=TOTAL_BASIS_POINTS,
        )
        audit_record(
            actor=None,
            organization=dataset.organization,
            action="share_table.create_default",
            obj=table,
            data={"dataset": dataset.public_id, "version": 1},
        )
        return table
