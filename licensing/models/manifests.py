"""Signed deletion manifests (issue 13 §2): when a contributor withdraws consent for a dataset,
every organisation holding a grant for it receives one, naming the member paths and SHA-256
digests to delete and the deadline, signed with the license-signing key (JWS). The licensee
acknowledges it; unacknowledged ones are listed for the provider and staff."""

from django.conf import settings
from django.db import models

from marketplace.models.catalogue import new_public_id


def new_manifest_id() -> str:
    return new_public_id("dm")


class DeletionManifestQuerySet(models.QuerySet):
    def unacknowledged(self):
        """Waiting for the licensee: not acknowledged and not replaced by a later revision."""
        return self.filter(acknowledged_at__isnull=True, superseded_by__isnull=True)


class DeletionManifest(models.Model):
    public_id = models.CharField(max_length=32, unique=True, default=new_manifest_id)
    withdrawal = models.ForeignKey(
        "contributors.ConsentWithdrawal", on_delete=models.PROTECT, related_name="manifests"
    )
    grant = models.ForeignKey(
        "licensing.Grant", on_delete=models.PROTECT, related_name="deletion_manifests"
    )
    # The licensee (the grant's organisation), denormalised for its list.
    organization = models.ForeignKey(
        "marketplace.Organization", on_delete=models.PROTECT, related_name="deletion_manifests"
    )
    dataset = models.ForeignKey("marketplace.Dataset", on_delete=models.PROTECT, related_name="+")
    token = models.TextField()
    kid = models.CharField(max_length=128)
    deadline = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The withdrawal's members can grow after its first manifest (the provider maps members to
    # the contributor later): each grant then gets a new revision naming every member, which
    # replaces the one before.
    revision = models.PositiveIntegerField(default=1)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )

    objects = DeletionManifestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["withdrawal", "grant", "revision"], name="uniq_manifest_revision_per_grant"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="manifest_org_newest"),
        ]

    def __str__(self):
        return self.public_id
