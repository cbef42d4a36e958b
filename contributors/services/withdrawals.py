"""Consent withdrawal (issue 13 §2). A contributor withdraws consent for a dataset from their
own space (or the provider records it on their behalf). In one transaction:

* the withdrawal resolves, through the provider's member mapping, to the members (paths and
  SHA-256s) of the dataset's published versions;
* the dataset's share table gets a new version without the contributor, in force from now
  (what they earned before stays theirs: the ledger is not touched). On the percentage basis
  their share goes to the owning organisation, so the table still sums to 100 %; on the weight
  basis the others share pro rata;
* the provider owes a version without those members before the deadline
  (CONSENT_WITHDRAWAL_DEADLINE_DAYS); the ingestion checks of a new version fail while any of
  the digests remains (`withdrawn_digests`, registered with marketplace), and the obligation is
  met when a version without them is published (`withdrawals_fulfil`);
* the listeners registered by upper layers run (licensing sends every grant holder a signed
  deletion manifest).

A withdrawal is final: one per contributor and dataset."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from contributors.models import (
    ConsentWithdrawal,
    Contributor,
    MemberMapping,
    Payee,
    ShareLine,
    ShareTable,
    WithdrawnMember,
)
from contributors.services.member_mapping import members_resolve, version_digests
from contributors.services.payees import organization_owner_check, payee_for_organization
from contributors.services.shares import (
    TOTAL_BASIS_POINTS,
    ShareSpec,
    _email,
    dataset_lock,
    share_table_latest,
    share_table_write,
)
from marketplace.actors import Actor
from marketplace.models import Dataset, DatasetVersion
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Invalid, NotFound

REASON_MAX = 2000
_CHUNK = 10_000

# Upper layers react to a new withdrawal inside its transaction (licensing: deletion manifests);
# registered in their AppConfig.ready(), so this app never imports them.
_listeners: list = []


def withdrawal_listener_register(listener) -> None:
    """`listener(withdrawal=...)` runs in the withdrawal's transaction."""
    if listener not in _listeners:
        _listeners.append(listener)


def _reason(reason) -> str:
    if reason is None:
        return ""
    if not isinstance(reason, str):
        raise Invalid("reason: must be text.")
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise Invalid(f"reason: at most {REASON_MAX} characters (got {len(reason)}).")
    return reason


def _share_table_without(*, dataset: Dataset, payee: Payee, created_by) -> ShareTable | None:
    """The next version of the dataset's share table without `payee`'s line; None when the
    table in force has no such line."""
    current = share_table_latest(dataset)
    if current is None:
        return None
    lines = list(current.lines.select_related("payee__contributor").order_by("pk"))
    if not any(line.payee_id == payee.pk for line in lines):
        return None
    org_payee = payee_for_organization(dataset.organization)
    freed = sum(line.weight for line in lines if line.payee_id == payee.pk)
    kept = [line for line in lines if line.payee_id != payee.pk]
    weights = {line.payee_id: line.weight for line in kept}
    names = {line.payee_id: line.name for line in kept}
    payees = {line.payee_id: line.payee for line in kept}
    if current.basis == ShareTable.Basis.PERCENTAGE or not kept:
        extra = freed if current.basis == ShareTable.Basis.PERCENTAGE else 1
        weights[org_payee.pk] = weights.get(org_payee.pk, 0) + extra
        names.setdefault(org_payee.pk, "")
        payees[org_payee.pk] = org_payee
    wanted = [
        (
            payees[pk],
            ShareSpec(
                organization=pk == org_payee.pk,
                email="" if pk == org_payee.pk else payees[pk].contributor.email,
                name=names[pk],
                weight=weights[pk],
            ),
        )
        for pk in weights
    ]
    if current.basis == ShareTable.Basis.PERCENTAGE:
        assert sum(s.weight for _, s in wanted) == TOTAL_BASIS_POINTS
    table, _previous, _created = share_table_write(
        dataset=dataset, basis=current.basis, wanted=wanted, created_by=created_by
    )
    return table


def _withdraw(
    *, actor: Actor, dataset: Dataset, contributor: Contributor, reason: str, source: str
) -> ConsentWithdrawal:
    dataset = dataset_lock(dataset)
    if ConsentWithdrawal.objects.filter(dataset=dataset, contributor=contributor).exists():
        raise Conflict(
            "Consent for this dataset was already withdrawn.", code="consent_already_withdrawn"
        )
    now = timezone.now()
    members = members_resolve(dataset=dataset, contributor=contributor)
    payee = Payee.objects.filter(contributor=contributor).first()
    table = (
        _share_table_without(dataset=dataset, payee=payee, created_by=actor.user)
        if payee is not None
        else None
    )
    withdrawal = ConsentWithdrawal.objects.create(
        dataset=dataset,
        contributor=contributor,
        source=source,
        reason=reason,
        recorded_by=actor.user,
        created_at=now,
        deadline=now + timedelta(days=settings.CONSENT_WITHDRAWAL_DEADLINE_DAYS),
        share_table=table,
    )
    for member in members:
        member.withdrawal = withdrawal
    WithdrawnMember.objects.bulk_create(members, batch_size=5_000)
    audit_record(
        actor=actor,
        organization=dataset.organization,
        action="consent.withdraw",
        obj=withdrawal,
        data={
            "withdrawal": withdrawal.public_id,
            "dataset": dataset.public_id,
            "source": source,
            "members": len(members),
            "shareTableVersion": table.version if table else None,
            "deadline": withdrawal.deadline.isoformat(),
        },
    )
    for listener in _listeners:
        listener(withdrawal=withdrawal)
    return withdrawal


def _is_contributor_of(dataset: Dataset, contributor: Contributor) -> bool:
    return (
        ShareLine.objects.filter(table__dataset=dataset, payee__contributor=contributor).exists()
        or MemberMapping.objects.filter(dataset=dataset, contributor=contributor).exists()
    )


@transaction.atomic
def consent_withdraw(
    *, actor: Actor, contributor: Contributor, dataset_id: str, reason: str = ""
) -> ConsentWithdrawal:
    """The contributor's own withdrawal (the caller's claimed profile). Only a dataset whose
    revenue shares (any version) or member mapping name them; any other is 404, whether it
    exists or not."""
    reason = _reason(reason)
    if contributor.user_id is None or contributor.user_id != actor.user.pk:
        raise NotFound("Contributor profile not found.")
    dataset = Dataset.objects.filter(public_id=dataset_id).select_related("organization").first()
    if dataset is None or not _is_contributor_of(dataset, contributor):
        raise NotFound(f"Dataset {dataset_id} not found among your contributions.")
    return _withdraw(
        actor=actor,
        dataset=dataset,
        contributor=contributor,
        reason=reason,
        source=ConsentWithdrawal.Source.CONTRIBUTOR,
    )


@transaction.atomic
def consent_withdrawal_record(
    *, actor: Actor, dataset: Dataset, email: str, reason: str = ""
) -> ConsentWithdrawal:
    """The provider (an owner of the dataset's organisation) records a withdrawal on a
    contributor's behalf, naming them by e-mail: they must be named in the dataset's revenue
    shares or member mapping."""
    organization_owner_check(
        actor=actor, organization=dataset.organization, action="record a consent withdrawal"
    )
    reason = _reason(reason)
    email = _email(email, "contributor")
    contributor = Contributor.objects.filter(email=email).first()
    if contributor is None or not _is_contributor_of(dataset, contributor):
        raise Invalid(
            f"contributor.email: {email} is not a contributor of this dataset.",
            code="not_a_contributor_of_dataset",
        )
    return _withdraw(
        actor=actor,
        dataset=dataset,
        contributor=contributor,
        reason=reason,
        source=ConsentWithdrawal.Source.PROVIDER,
    )


def withdrawn_digests(*, dataset_id: int, digests: list[str]) -> dict[str, list[str]] | None:
    """For marketplace's ingestion checks: of `digests`, those a withdrawal of the dataset
    covers, each with the withdrawn paths; None when the dataset has no withdrawal."""
    if not ConsentWithdrawal.objects.filter(dataset_id=dataset_id).exists():
        return None
    found: dict[str, set[str]] = {}
    for start in range(0, len(digests), _CHUNK):
        rows = WithdrawnMember.objects.filter(
            dataset_id=dataset_id, sha256__in=digests[start : start + _CHUNK]
        ).values_list("sha256", "path")
        for sha256, path in rows:
            found.setdefault(sha256, set()).add(path)
    return {digest: sorted(paths) for digest, paths in found.items()}


def withdrawals_fulfil(*, version: DatasetVersion) -> list[ConsentWithdrawal]:
    """A version was published: every open withdrawal of its dataset none of whose digests the
    version holds is fulfilled by it. Runs in the publishing transaction."""
    open_withdrawals = list(
        ConsentWithdrawal.objects.select_for_update()
        .filter(dataset_id=version.dataset_id, status=ConsentWithdrawal.Status.OPEN)
        .order_by("pk")
    )
    if not open_withdrawals:
        return []
    digests = version_digests(version)
    if digests is None:
        return []
    fulfilled = []
    now = timezone.now()
    for withdrawal in open_withdrawals:
        withdrawn = set(withdrawal.members.values_list("sha256", flat=True))
        if withdrawn & digests:
            continue
        withdrawal.status = ConsentWithdrawal.Status.FULFILLED
        withdrawal.fulfilled_at = now
        withdrawal.fulfilled_by_version = version
        withdrawal.save(update_fields=["status", "fulfilled_at", "fulfilled_by_version"])
        audit_record(
            actor=None,
            organization=version.dataset.organization,
            action="consent.withdrawal_fulfilled",
            obj=withdrawal,
            data={"withdrawal": withdrawal.public_id, "version": version.number},
        )
        fulfilled.append(withdrawal)
    return fulfilled


def on_dataset_version_published(sender, version: DatasetVersion, **kwargs) -> None:
    withdrawals_fulfil(version=version)


def withdrawals_handled(*, dataset_ids) -> dict[int, tuple[int, object]]:
    """{dataset id: (withdrawals handled, when the last was handled)}: a withdrawal is handled
    when a version without its members was published. Never says who withdrew."""
    rows = (
        ConsentWithdrawal.objects.filter(
            dataset_id__in=list(dataset_ids), status=ConsentWithdrawal.Status.FULFILLED
        )
        .values("dataset_id")
        .annotate(n=Count("pk"), last=Max("fulfilled_at"))
    )
    return {r["dataset_id"]: (r["n"], r["last"]) for r in rows}
