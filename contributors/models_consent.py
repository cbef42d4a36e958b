"""Consent withdrawal (issue 13 §2): which archive members each contributor of a dataset
contributed (the provider's member mapping), and the withdrawals with the members they resolved
to. Imported by contributors/models.py so Django finds the models."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from marketplace.models.catalogue import new_public_id


def new_withdrawal_id() -> str:
    return new_public_id("cw")


class MemberMapping(models.Model):
    """One line of a dataset's member mapping: the archive members whose path starts with
    `path_prefix` are `contributor`'s. Replaced whole when the provider saves the mapping."""

    dataset = models.ForeignKey(
        "marketplace.Dataset", on_delete=models.CASCADE, related_name="member_mappings"
    )
    contributor = models.ForeignKey(
        "contributors.Contributor", on_delete=models.PROTECT, related_name="member_mappings"
    )
    path_prefix = models.CharField(max_length=1000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "contributor", "path_prefix"], name="uniq_member_mapping_line"
            )
        ]

    def __str__(self):
        return f"{self.contributor_id}: {self.path_prefix}"


class ConsentWithdrawal(models.Model):
    """A contributor's withdrawal of consent for one dataset: final (one per contributor and
    dataset). The provider must publish a version without the withdrawn members before
    `deadline`; the obligation is met when such a version is published."""

    class Source(models.TextChoices):
        CONTRIBUTOR = "contributor"
        PROVIDER = "provider"

    class Status(models.TextChoices):
        OPEN = "open"
        FULFILLED = "fulfilled"

    public_id = models.CharField(max_length=32, unique=True, default=new_withdrawal_id)
    dataset = models.ForeignKey(
        "marketplace.Dataset", on_delete=models.PROTECT, related_name="consent_withdrawals"
    )
    contributor = models.ForeignKey(
        "contributors.Contributor", on_delete=models.PROTECT, related_name="withdrawals"
    )
    source = models.CharField(max_length=12, choices=Source.choices)
    reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    deadline = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    fulfilled_by_version = models.ForeignKey(
        "marketplace.DatasetVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The share table version without the contributor, in force from the withdrawal.
    share_table = models.ForeignKey(
        "contributors.ShareTable", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "contributor"], name="uniq_withdrawal_per_contributor"
            )
        ]
        indexes = [models.Index(fields=["status", "deadline"], name="withdrawal_open_deadline")]

    def __str__(self):
        return f"{self.public_id} ({self.status})"

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.OPEN and self.deadline < timezone.now()


class WithdrawnMember(models.Model):
    """A member (file) of a published version that a withdrawal covers: its path and SHA-256.
    The ingestion checks of a new version fail while any of these digests remains."""

    withdrawal = models.ForeignKey(
        ConsentWithdrawal, on_delete=models.CASCADE, related_name="members"
    )
    # Denormalised so the ingestion check looks digests up per dataset without a join.
    dataset = models.ForeignKey("marketplace.Dataset", on_delete=models.PROTECT, related_name="+")
    version = models.ForeignKey(
        "marketplace.DatasetVersion", on_delete=models.PROTECT, related_name="+"
    )
    path = models.TextField()
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["withdrawal", "version", "path"]
        indexes = [models.Index(fields=["dataset", "sha256"], name="withdrawn_member_digest")]

    def __str__(self):
        return self.path
