from django.conf import settings
from django.db import models
from django.utils import timezone

from marketplace.models.catalogue import new_public_id


def new_access_request_id() -> str:
    return new_public_id("ar")


class AccessRequest(models.Model):
    """An organisation's request to download a restricted dataset. One row per (dataset,
    requesting organisation): asking again after a rejection reopens it; the owner can change
    its decision either way; history is in the audit log."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    public_id = models.CharField(max_length=32, unique=True, default=new_access_request_id)
    dataset = models.ForeignKey(
        "marketplace.Dataset", on_delete=models.PROTECT, related_name="access_requests"
    )
    organization = models.ForeignKey(
        "marketplace.Organization", on_delete=models.PROTECT, related_name="access_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # What the requester wrote (the person and organisation as they name themselves).
    name = models.CharField(max_length=200)
    organization_name = models.CharField(max_length=200)
    intended_use = models.TextField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    auto_approved = models.BooleanField(default=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text="The owner's reason, shown to the requester.")
    # When the current request was made (asking again after a rejection restarts it).
    requested_at = models.DateTimeField(default=timezone.now)
    # Set by the periodic sweep when a request stays pending too long (staff follow up).
    stale_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "organization"], name="uniq_access_request_per_org"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="access_request_sent"),
            models.Index(
                fields=["requested_at"],
                name="access_request_pending",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self):
        return f"{self.organization_id} → {self.dataset_id} ({self.status})"
