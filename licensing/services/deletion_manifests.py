"""Signed deletion manifests (issue 13 §2). When a contributor's consent withdrawal is recorded
(contributors.services.withdrawals calls `deletion_manifests_issue` in its transaction), every
organisation holding a grant in force for the dataset gets one manifest per grant: a compact
JWS (EdDSA, the license-signing key, verifiable offline with the JWKS) naming the dataset, its
versions, the member paths and SHA-256 digests to delete, the grant and the deadline — never
who withdrew. It reaches the licensee as a `consent.withdrawn` event (webhook and polling) and
on its library page; the licensee acknowledges it (once; again is a no-op).

When the withdrawal's members grow later (the provider maps members to the contributor after the
withdrawal, contributors.services.member_mapping), every grant that received a manifest of it
gets a new revision naming every member (`deletion_manifests_revise`): it replaces the one
before, which no longer waits for an acknowledgement."""

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Prefetch
from django.utils import timezone

from contributors.models import ConsentWithdrawal
from licensing.models import DeletionManifest, Grant
from licensing.signing import jws_sign
from marketplace.actors import Actor
from marketplace.events.services import event_emit
from marketplace.models import DatasetVersion, Organization
from marketplace.services.audit import audit_record
from marketplace.services.errors import NotFound

MANIFEST_TYPE = "deletion-manifest"


def manifest_claims(
    *, manifest: DeletionManifest, withdrawal: ConsentWithdrawal, grant: Grant, members, now
) -> dict:
    """The signed claims. `revision` counts the grant's manifests of this withdrawal;
    `supersedes` names the one a later revision replaces (null on the first)."""
    dataset = withdrawal.dataset
    numbers = sorted({m.version.number for m in members})
    versions = {
        v.number: v for v in DatasetVersion.objects.filter(dataset=dataset, number__in=numbers)
    }
    return {
        "iss": settings.PUBLIC_BASE_URL,
        "sub": grant.public_id,
        "jti": manifest.public_id,
        "iat": int(now.timestamp()),
        "type": MANIFEST_TYPE,
        "revision": manifest.revision,
        "supersedes": manifest.supersedes.public_id if manifest.supersedes else None,
        "withdrawal": withdrawal.public_id,
        "withdrawnAt": withdrawal.created_at.isoformat(),
        "deadline": withdrawal.deadline.isoformat(),
        "grant": {"id": grant.public_id},
        "licensee": {"organizationId": str(grant.organization_id), "name": grant.organization.name},
        "dataset": {
            "id": dataset.public_id,
            "slug": dataset.slug,
            "name": dataset.name,
            "publisher": dataset.organization.name,
        },
        "versions": [
            {"number": n, "filename": versions[n].filename, "sha256": versions[n].sha256}
            for n in numbers
        ],
        "members": [
            {"version": m.version.number, "path": m.path, "size": m.size, "sha256": m.sha256}
            for m in members
        ],
        "instructions": (
            "Delete every copy of these members (matched by SHA-256, whatever their path) from "
            "your storage, and do not use them for new training, before the deadline; then "
            "acknowledge this manifest."
        ),
    }


def _members(withdrawal: ConsentWithdrawal) -> list:
    return list(withdrawal.members.select_related("version").order_by("version__number", "path"))


def _manifest_issue(*, withdrawal, grant, members, now) -> DeletionManifest | None:
    """The grant's first manifest of this withdrawal; None when it has one already."""
    if DeletionManifest.objects.filter(withdrawal=withdrawal, grant=grant).exists():
        return None
    return _manifest_write(withdrawal=withdrawal, grant=grant, members=members, now=now)


def _manifest_write(*, withdrawal, grant, members, now, previous=None) -> DeletionManifest:
    """One signed manifest and its `consent.withdrawn` event for one grant: the first, or the
    revision after `previous`."""
    manifest = DeletionManifest(
        withdrawal=withdrawal,
        grant=grant,
        organization=grant.organization,
        dataset=withdrawal.dataset,
        deadline=withdrawal.deadline,
        revision=previous.revision + 1 if previous else 1,
        supersedes=previous,
    )
    claims = manifest_claims(
        manifest=manifest, withdrawal=withdrawal, grant=grant, members=members, now=now
    )
    manifest.token, manifest.kid = jws_sign(claims)
    manifest.save()
    event_emit(
        organization=grant.organization,
        type="consent.withdrawn",
        key=manifest.public_id,
        data={
            "deletionManifest": manifest.public_id,
            "dataset": withdrawal.dataset.public_id,
            "grant": grant.public_id,
            "deadline": manifest.deadline.isoformat(),
            "members": len(members),
            "revision": manifest.revision,
            "supersedes": previous.public_id if previous else None,
            "manifest": manifest.token,
        },
    )
    audit_record(
        actor=None,
        organization=grant.organization,
        action="deletion_manifest.issue",
        obj=manifest,
        data={
            "manifest": manifest.public_id,
            "withdrawal": withdrawal.public_id,
            "revision": manifest.revision,
        },
    )
    return manifest


def deletion_manifests_issue(*, withdrawal: ConsentWithdrawal) -> list[DeletionManifest]:
    """One signed manifest (and one `consent.withdrawn` event) per grant in force for the
    withdrawal's dataset. Idempotent per (withdrawal, grant)."""
    members = _members(withdrawal)
    grants = (
        Grant.objects.active()
        .filter(dataset=withdrawal.dataset)
        .select_related("organization")
        .order_by("pk")
    )
    now = timezone.now()
    issued = [
        _manifest_issue(withdrawal=withdrawal, grant=grant, members=members, now=now)
        for grant in grants
    ]
    return [manifest for manifest in issued if manifest is not None]


def deletion_manifests_issue_for_grant(*, grant: Grant) -> list[DeletionManifest]:
    """A grant issued while withdrawals of its dataset are still open (no version without the
    withdrawn members published yet) lets the licensee download those members: it gets the
    same signed manifests as the earlier holders. Called by `grant_issue` in its transaction."""
    withdrawals = ConsentWithdrawal.objects.filter(
        dataset_id=grant.dataset_id, status=ConsentWithdrawal.Status.OPEN
    ).order_by("pk")
    now = timezone.now()
    issued = [
        _manifest_issue(withdrawal=w, grant=grant, members=_members(w), now=now)
        for w in withdrawals
    ]
    return [manifest for manifest in issued if manifest is not None]


def deletion_manifests_revise(*, withdrawal: ConsentWithdrawal) -> list[DeletionManifest]:
    """The withdrawal names more members than when its manifests were signed: each grant that
    received one (in force or not: its holder may keep copies) gets a new revision naming every
    member, with the withdrawal's deadline; a grant in force without one gets its first."""
    members = _members(withdrawal)
    now = timezone.now()
    latest: dict[int, DeletionManifest] = {}
    for manifest in (
        DeletionManifest.objects.filter(withdrawal=withdrawal)
        .select_related("grant__organization")
        .order_by("grant_id", "revision")
    ):
        latest[manifest.grant_id] = manifest
    issued = [
        _manifest_write(
            withdrawal=withdrawal, grant=previous.grant, members=members, now=now, previous=previous
        )
        for previous in latest.values()
    ]
    newcomers = (
        Grant.objects.active()
        .filter(dataset=withdrawal.dataset)
        .exclude(pk__in=list(latest))
        .select_related("organization")
        .order_by("pk")
    )
    issued += [
        _manifest_write(withdrawal=withdrawal, grant=grant, members=members, now=now)
        for grant in newcomers
    ]
    return issued


def on_withdrawal(*, withdrawal: ConsentWithdrawal) -> None:
    deletion_manifests_issue(withdrawal=withdrawal)


def on_withdrawal_members_added(*, withdrawal: ConsentWithdrawal) -> None:
    deletion_manifests_revise(withdrawal=withdrawal)


def manifests_of_organization(*, organization: Organization):
    return (
        DeletionManifest.objects.filter(organization=organization)
        .select_related("dataset", "grant", "supersedes", "superseded_by")
        .order_by("-created_at", "-pk")
    )


def manifest_of_organization(*, organization: Organization, manifest_id: str) -> DeletionManifest:
    """A manifest of the organisation's; another organisation's is 404 like an unknown one."""
    manifest = (
        manifests_of_organization(organization=organization).filter(public_id=manifest_id).first()
    )
    if manifest is None:
        raise NotFound(f"Deletion manifest {manifest_id} not found.")
    return manifest


@transaction.atomic
def deletion_manifest_acknowledge(*, actor: Actor, manifest_id: str) -> DeletionManifest:
    """Any member of the licensee organisation acknowledges that the members were deleted. Once:
    acknowledging again changes nothing and returns the first acknowledgement."""
    manifest = manifest_of_organization(organization=actor.organization, manifest_id=manifest_id)
    manifest = DeletionManifest.objects.select_for_update().get(pk=manifest.pk)
    if manifest.acknowledged_at is not None:
        return manifest
    manifest.acknowledged_at = timezone.now()
    manifest.acknowledged_by = actor.user
    manifest.save(update_fields=["acknowledged_at", "acknowledged_by"])
    audit_record(
        actor=actor,
        organization=actor.organization,
        action="deletion_manifest.acknowledge",
        obj=manifest,
        data={"manifest": manifest.public_id, "dataset": manifest.dataset.public_id},
    )
    return manifest


def provider_withdrawals(*, dataset):
    """The dataset's withdrawals, newest first, each with its manifests (licensee and
    acknowledgement) prefetched: a constant number of queries."""
    return (
        ConsentWithdrawal.objects.filter(dataset=dataset)
        .select_related("dataset", "contributor", "share_table")
        .annotate(member_count=Count("members", distinct=True))
        .prefetch_related(
            Prefetch(
                "manifests",
                queryset=DeletionManifest.objects.select_related(
                    "organization", "grant", "superseded_by"
                ).order_by("pk"),
            )
        )
        .order_by("-created_at", "-pk")
    )


def manifests_unacknowledged_of_provider(*, organization: Organization):
    """Manifests of the provider's datasets that a licensee has not acknowledged yet."""
    return (
        DeletionManifest.objects.unacknowledged()
        .filter(dataset__organization=organization)
        .select_related("dataset", "organization", "grant", "withdrawal")
        .order_by("deadline", "pk")
    )
