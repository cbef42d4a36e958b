"""Takedown notices (issue 13 §3): anyone files one about a published dataset (or one of its
versions); staff accept it (the dataset or version is removed) or reject it with a reason; the
provider can answer an accepted notice with a counter-notice. The claimant's contact details are
for staff and the e-mails to the claimant only: the provider never sees them."""

import secrets

from django.conf import settings
from django.db import models


def new_notice_reference() -> str:
    return "tdn_" + secrets.token_hex(10)


class TakedownNotice(models.Model):
    class Basis(models.TextChoices):
        COPYRIGHT = "copyright", "Copyright"
        PERSONAL_DATA = "personal_data", "Personal data"
        CONSENT = "consent", "Consent"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    # The reference the claimant is given (receipt e-mail, API answer).
    reference = models.CharField(max_length=32, unique=True, default=new_notice_reference)
    dataset = models.ForeignKey(
        "marketplace.Dataset", on_delete=models.PROTECT, related_name="takedown_notices"
    )
    # When the notice concerns one version only; else the whole dataset.
    version = models.ForeignKey(
        "marketplace.DatasetVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    claimant_name = models.CharField(max_length=200)
    contact_email = models.EmailField(max_length=254)
    basis = models.CharField(max_length=20, choices=Basis.choices)
    # The archive members concerned, one path per line (free text: the claimant's words).
    members = models.TextField(blank=True)
    description = models.TextField()
    good_faith = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    decision_reason = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "-created_at"], name="takedown_status_idx")]

    def __str__(self):
        return f"{self.reference} ({self.status})"

    @property
    def member_paths(self) -> list[str]:
        return [line.strip() for line in self.members.splitlines() if line.strip()]


class CounterNotice(models.Model):
    """The provider's answer to an accepted notice: one per notice."""

    notice = models.OneToOneField(
        TakedownNotice, on_delete=models.CASCADE, related_name="counter_notice"
    )
    organization = models.ForeignKey(
        "marketplace.Organization", on_delete=models.PROTECT, related_name="+"
    )
    statement = models.TextField()
    contact = models.CharField(max_length=300)
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"counter-notice to {self.notice.reference}"
