"""Which archive members each contributor of a dataset contributed (issue 13 §2): the provider
maps contributors to members by member path prefix, as JSON or as a CSV file (`email,path
prefix`), when the shares are set. Stored per dataset and replaced whole; a consent withdrawal
resolves through it to the members (paths and SHA-256s) of the published versions.

A mapping saved after a withdrawal was recorded back-fills it: the members the new mapping gives
to the withdrawn contributor are added to the withdrawal (never removed: what a licensee was told
to delete stays named), the upper layers' listeners run (licensing sends every licensee told
before a new revision of its signed deletion manifest), and a withdrawal already fulfilled is
open again when the latest published version still holds one of the added members."""

import csv
import io
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contributors.models import (
    ConsentWithdrawal,
    Contributor,
    MemberMapping,
    ShareLine,
    WithdrawnMember,
)
from contributors.services.payees import organization_owner_check
from contributors.services.shares import EMAIL_MAX_LENGTH, _email
from marketplace.actors import Actor
from marketplace.csv_safe import csv_cell_unescape, csv_row
from marketplace.models import CheckRun, Dataset, DatasetVersion, VersionMember
from marketplace.services.audit import audit_record
from marketplace.services.errors import Invalid

PREFIX_MAX = 1000
MAX_LINES = 10_000
CSV_MAX_BYTES = 2 * 1024 * 1024
HEADER = ("email", "path prefix")

# Upper layers react when a withdrawal's members grow (licensing: a new manifest revision per
# licensee); registered in their AppConfig.ready(), so this app never imports them.
_members_added_listeners: list = []


def withdrawal_members_added_listener_register(listener) -> None:
    """`listener(withdrawal=...)` runs in the transaction that added members to a withdrawal."""
    if listener not in _members_added_listeners:
        _members_added_listeners.append(listener)


@dataclass(frozen=True)
class MappingLine:
    email: str
    path_prefix: str


def _prefix(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f'{where}.pathPrefix: a member path prefix like "clips/alice/" is required.')
    prefix = value.strip()
    if len(prefix) > PREFIX_MAX:
        raise Invalid(f"{where}.pathPrefix: at most {PREFIX_MAX} characters.")
    if prefix.startswith("/") or ".." in prefix.split("/") or "\x00" in prefix:
        raise Invalid(
            f"{where}.pathPrefix: {prefix[:80]!r} must be a relative member path (no leading "
            '"/", no "..").'
        )
    return prefix


def member_mapping_parse(mappings) -> list[MappingLine]:
    """Rules: a list of {"email", "pathPrefix"}; each prefix a relative member path; a line at
    most once."""
    if not isinstance(mappings, list):
        raise Invalid("mappings: must be a list of {email, pathPrefix}.")
    if len(mappings) > MAX_LINES:
        raise Invalid(f"mappings: at most {MAX_LINES:,} lines (got {len(mappings):,}).")
    lines: list[MappingLine] = []
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(mappings):
        where = f"mappings[{i}]"
        if not isinstance(item, dict) or set(item) - {"email", "pathPrefix"}:
            raise Invalid(f'{where}: must be an object with "email" and "pathPrefix".')
        line = MappingLine(_email(item.get("email"), where), _prefix(item.get("pathPrefix"), where))
        if (line.email, line.path_prefix) in seen:
            raise Invalid(f"{where}: {line.email} {line.path_prefix!r} appears twice.")
        seen.add((line.email, line.path_prefix))
        lines.append(line)
    return lines


def member_mapping_csv_parse(data: bytes) -> list[dict]:
    """A CSV file of `email,path prefix` lines (a header line naming them is optional), UTF-8
    with or without a byte-order mark; line numbers in the messages are the file's."""
    if len(data) > CSV_MAX_BYTES:
        raise Invalid(f"The file is larger than {CSV_MAX_BYTES // 1024 // 1024} MiB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("The file is not UTF-8 text.") from None
    mappings = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [csv_cell_unescape(c.strip()) for c in row]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower() in ("email", "e-mail"):
            continue
        if len(cells) != 2:
            raise Invalid(
                f"line {number}: two columns expected (e-mail, path prefix), got {len(cells)}."
            )
        if len(cells[0]) > EMAIL_MAX_LENGTH:
            raise Invalid(f"line {number}: the e-mail address is too long.")
        mappings.append({"email": cells[0], "pathPrefix": cells[1]})
    if not mappings:
        raise Invalid("The file names no contributor (expected lines: e-mail, path prefix).")
    return mappings


def _named_contributors(dataset: Dataset) -> dict[str, Contributor]:
    """The contributors named in any version of the dataset's share table, by e-mail."""
    ids = ShareLine.objects.filter(table__dataset=dataset, payee__contributor__isnull=False).values(
        "payee__contributor_id"
    )
    return {c.email: c for c in Contributor.objects.filter(pk__in=ids)}


@transaction.atomic
def member_mapping_set(*, actor: Actor, dataset: Dataset, mappings) -> list[MemberMapping]:
    """Replace the dataset's member mapping (owners of its organisation). Every e-mail must be
    a contributor named in the dataset's revenue shares. Checked whole before anything is
    replaced: bad input changes nothing."""
    organization_owner_check(
        actor=actor, organization=dataset.organization, action="map contributors to members"
    )
    lines = member_mapping_parse(mappings)
    named = _named_contributors(dataset)
    for i, line in enumerate(lines):
        if line.email not in named:
            raise Invalid(
                f"mappings[{i}].email: {line.email} is not named in this dataset's revenue "
                "shares; set the shares first.",
                code="not_a_contributor_of_dataset",
            )
    Dataset.objects.select_for_update(no_key=True).get(pk=dataset.pk)
    MemberMapping.objects.filter(dataset=dataset).delete()
    rows = MemberMapping.objects.bulk_create(
        MemberMapping(
            dataset=dataset,
            contributor=named[line.email],
            path_prefix=line.path_prefix,
            created_by=actor.user,
        )
        for line in lines
    )
    audit_record(
        actor=actor,
        organization=dataset.organization,
        action="member_mapping.set",
        obj=dataset,
        data={"dataset": dataset.public_id, "lines": len(rows)},
    )
    withdrawals_backfill(actor=actor, dataset=dataset)
    return rows


def withdrawals_backfill(*, actor: Actor, dataset: Dataset) -> list[ConsentWithdrawal]:
    """Adds to each withdrawal of the dataset the members the current mapping gives to its
    contributor that it does not name yet; returns the withdrawals that grew. Runs in the
    transaction that saved the mapping, the dataset row locked (as a withdrawal's own)."""
    grown = []
    latest_digests = manifests = None
    withdrawals = (
        ConsentWithdrawal.objects.select_for_update()
        .filter(dataset=dataset)
        .select_related("contributor")
        .order_by("pk")
    )
    for withdrawal in withdrawals:
        if manifests is None:  # read once, for every withdrawal of the dataset
            manifests = version_manifests(dataset)
        named = set(withdrawal.members.values_list("version_id", "path"))
        added = [
            member
            for member in members_resolve(
                dataset=dataset, contributor=withdrawal.contributor, manifests=manifests
            )
            if (member.version_id, member.path) not in named
        ]
        if not added:
            continue
        for member in added:
            member.withdrawal = withdrawal
        WithdrawnMember.objects.bulk_create(added, batch_size=5_000)
        reopened = False
        if withdrawal.status == ConsentWithdrawal.Status.FULFILLED:
            if latest_digests is None:
                latest = DatasetVersion.objects.filter(pk=dataset.latest_version_id).first()
                latest_digests = (version_digests(latest) if latest else None) or set()
            if {member.sha256 for member in added} & latest_digests:
                # The version that fulfilled it still holds these members: a new obligation,
                # its deadline counted from now (the provider learns of the members now).
                withdrawal.status = ConsentWithdrawal.Status.OPEN
                withdrawal.fulfilled_at = None
                withdrawal.fulfilled_by_version = None
                withdrawal.deadline = timezone.now() + timedelta(
                    days=settings.CONSENT_WITHDRAWAL_DEADLINE_DAYS
                )
                withdrawal.save(
                    update_fields=["status", "fulfilled_at", "fulfilled_by_version", "deadline"]
                )
                reopened = True
        audit_record(
            actor=actor,
            organization=dataset.organization,
            action="consent.withdrawal_members_added",
            obj=withdrawal,
            data={
                "withdrawal": withdrawal.public_id,
                "dataset": dataset.public_id,
                "members": len(added),
                "reopened": reopened,
                "deadline": withdrawal.deadline.isoformat(),
            },
        )
        for listener in _members_added_listeners:
            listener(withdrawal=withdrawal)
        grown.append(withdrawal)
    return grown


def member_mapping_of(dataset: Dataset) -> list[MemberMapping]:
    return list(
        MemberMapping.objects.filter(dataset=dataset)
        .select_related("contributor")
        .order_by("contributor__email", "path_prefix")
    )


def member_mapping_csv(dataset: Dataset) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for row in member_mapping_of(dataset):
        writer.writerow(csv_row([row.contributor.email, row.path_prefix]))
    return out.getvalue()


def version_manifests(dataset: Dataset) -> list[tuple[DatasetVersion, list]]:
    """Each published version of the dataset with its members [[path, size, sha256], ...],
    oldest first: from marketplace's VersionMember table, else (a version without rows there)
    the manifest its ingestion checks recorded."""
    versions = list(DatasetVersion.objects.filter(dataset=dataset).order_by("number"))
    members: dict[int, list] = {}
    for version_id, path, size, sha256 in (
        VersionMember.objects.filter(dataset=dataset)
        .order_by("version_id", "path", "pk")
        .values_list("version_id", "path", "size", "sha256")
    ):
        members.setdefault(version_id, []).append([path, size, sha256])
    missing = [v.archive_key for v in versions if v.pk not in members]
    runs = (
        {
            run.upload.key: run.manifest
            for run in CheckRun.objects.filter(upload__key__in=missing).select_related("upload")
        }
        if missing
        else {}
    )
    return [(v, members.get(v.pk) or runs.get(v.archive_key) or []) for v in versions]


def version_digests(version: DatasetVersion) -> set[str] | None:
    """The SHA-256s of the version's members (VersionMember, recorded when it was published),
    else of its check run's manifest; None when neither is known."""
    digests = set(VersionMember.objects.filter(version=version).values_list("sha256", flat=True))
    if digests:
        return digests
    run = CheckRun.objects.filter(upload__key=version.archive_key).first()
    if run is None:
        return None
    return {entry[2] for entry in run.manifest}


def members_resolve(
    *, dataset: Dataset, contributor: Contributor, manifests: list | None = None
) -> list[WithdrawnMember]:
    """The (unsaved) members of every published version of the dataset that the mapping gives
    to `contributor`: each member whose path starts with one of their prefixes. `manifests`:
    `version_manifests(dataset)` when the caller resolves several contributors."""
    prefixes = list(
        MemberMapping.objects.filter(dataset=dataset, contributor=contributor).values_list(
            "path_prefix", flat=True
        )
    )
    if not prefixes:
        return []
    found = []
    for version, manifest in version_manifests(dataset) if manifests is None else manifests:
        for path, size, sha256 in manifest:
            if any(path.startswith(p) for p in prefixes):
                found.append(
                    WithdrawnMember(
                        dataset=dataset, version=version, path=path, size=size, sha256=sha256
                    )
                )
    return found
