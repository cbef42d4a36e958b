"""Who shares a dataset's revenue: payees (organisations and individual contributors), the
versioned share tables of each dataset, and payout accounts (Stripe Connect Express)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Contributor(models.Model):
    """A person who contributed data. May have no account yet: invited by e-mail, their earnings
    accrue on their payee and are theirs once they sign up and claim the invitation."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contributor",
    )
    invite_token_hash = models.CharField(max_length=64, blank=True)
    invited_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The organisation whose invitation is the live one, and the one whose invitation was
    # claimed: an organisation sees the invitation and claim status of its own invitations
    # only, never another organisation's (security finding 7).
    invited_by = models.ForeignKey(
        "marketplace.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    claimed_via = models.ForeignKey(
        "marketplace.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # A claim looks the invitation up by the hash of its one-time token.
            models.Index(
                fields=["invite_token_hash"],
                name="contributor_invite_token",
                condition=~Q(invite_token_hash=""),
            )
        ]

    def __str__(self):
        return self.name or self.email


class Payee(models.Model):
    """Whoever can be owed money: exactly one of an organisation or a contributor."""

    class Kind(models.TextChoices):
        ORGANIZATION = "organization"
        CONTRIBUTOR = "contributor"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    organization = models.OneToOneField(
        "marketplace.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payee",
    )
    contributor = models.OneToOneField(
        Contributor, null=True, blank=True, on_delete=models.PROTECT, related_name="payee"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="payee_is_org_xor_contributor",
                condition=(
                    Q(kind="organization", organization__isnull=False, contributor__isnull=True)
                    | Q(kind="contributor", organization__isnull=True, contributor__isnull=False)
                ),
            )
        ]

    def __str__(self):
        return str(self.organization or self.contributor)


class ShareTable(models.Model):
    """One version of a dataset's revenue split. Never edited: a change is a new version, and
    each sale records the version that applied."""

    class Basis(models.TextChoices):
        # weights are basis points that sum to 10,000 (100.00 %)
        PERCENTAGE = "percentage"
        # weights are any positive integers (clips, seconds of audio, ...), split pro rata
        WEIGHT = "weight"

    dataset = models.ForeignKey(
        "marketplace.Dataset", on_delete=models.PROTECT, related_name="share_tables"
    )
    version = models.PositiveIntegerField()
    basis = models.CharField(max_length=12, choices=Basis.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "version"], name="uniq_share_table_version")
        ]

    def __str__(self):
        return f"shares of {self.dataset_id} v{self.version}"


class ShareLine(models.Model):
    table = models.ForeignKey(ShareTable, on_delete=models.PROTECT, related_name="lines")
    payee = models.ForeignKey(Payee, on_delete=models.PROTECT, related_name="share_lines")
    weight = models.PositiveBigIntegerField()
    # The name the owner entered for this line (shown back to them); a contributor's own name
    # is theirs and is not overwritten by what one organisation typed.
    name = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["table", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["table", "payee"], name="uniq_share_line_payee"),
            models.CheckConstraint(name="share_weight_positive", condition=Q(weight__gt=0)),
        ]

    def __str__(self):
        return f"payee {self.payee_id}: {self.weight}"


class PayoutAccount(models.Model):
    """A payee's Stripe Connect Express account; payouts need `payouts_enabled`, which we learn
    from `account.updated` webhooks (re-fetched from Stripe, never trusted from the payload)."""

    payee = models.OneToOneField(Payee, on_delete=models.PROTECT, related_name="payout_account")
    stripe_account_id = models.CharField(max_length=64, unique=True)
    details_submitted = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.stripe_account_id} ({'enabled' if self.payouts_enabled else 'pending'})"


class ShareTableDraft(models.Model):
    """The revenue shares staged on a submission, before the dataset (or its next version) is
    published: a share table belongs to a Dataset, which exists only after the first approval.
    Validated like a share table when saved (contributors.services.share_drafts); when the
    submission's next DatasetVersion is published, it becomes the dataset's share table and is
    marked applied. Saving again replaces it whole (and makes it pending again)."""

    submission = models.OneToOneField(
        "marketplace.Submission", on_delete=models.CASCADE, related_name="share_draft"
    )
    basis = models.CharField(max_length=12, choices=ShareTable.Basis.choices)
    # [{"organization": bool, "email": str, "name": str, "weight": int}, ...] in the order
    # entered; weights as in ShareLine (basis points for the percentage basis). A draft may
    # name up to CONTRIBUTOR_SHARES_MAX_LINES contributors: one row, replaced whole.
    lines = models.JSONField(default=list)
    line_count = models.PositiveIntegerField(default=0)
    total_weight = models.PositiveBigIntegerField(default=0)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_table = models.ForeignKey(
        ShareTable, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self):
        state = "applied" if self.applied_at else "pending"
        return f"share draft of submission {self.submission_id} ({state})"

    @property
    def is_pending(self) -> bool:
        return self.applied_at is None


from contributors.models_consent import (  # noqa: E402 - the consent models, in their own module
    ConsentWithdrawal,
    MemberMapping,
    WithdrawnMember,
)

__all__ = [
    "ConsentWithdrawal",
    "Contributor",
    "MemberMapping",
    "Payee",
    "PayoutAccount",
    "ShareLine",
    "ShareTable",
    "ShareTableDraft",
    "WithdrawnMember",
]
