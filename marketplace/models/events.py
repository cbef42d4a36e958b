"""Outbound events to licensees: what happened (Event, one row per organisation told, written in
the same transaction as the change), where to send it (WebhookEndpoint) and each endpoint's
delivery of it (EventDelivery, with one DeliveryAttempt row per try: the delivery log)."""

from django.db import models


class Event(models.Model):
    """One event for one organisation. `public_id` is stable (derived from what happened, see
    `event_emit`), so a receiver de-duplicates by it and a second emit of the same change is a
    no-op. Polling (`GET /api/events?after=`) reads these rows in `pk` order."""

    public_id = models.CharField(max_length=40, unique=True)
    organization = models.ForeignKey(
        "marketplace.Organization", on_delete=models.CASCADE, related_name="events"
    )
    type = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["organization", "id"], name="event_org_id_idx")]

    def __str__(self):
        return f"{self.type} {self.public_id}"


class WebhookEndpoint(models.Model):
    class Status(models.TextChoices):
        ENABLED = "enabled"
        DISABLED = "disabled"

    organization = models.ForeignKey(
        "marketplace.Organization", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    created_by = models.ForeignKey(
        "marketplace.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list)
    # The HMAC key: needed in clear to sign, shown to the owner once at creation.
    secret = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENABLED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return self.url


class EventDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for its (next) attempt
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # gave up: retry window over or endpoint disabled

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The claim of a running attempt: another worker leaves the row alone until it expires.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_response_code = models.PositiveIntegerField(null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_event_endpoint")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx")]

    def __str__(self):
        return f"delivery {self.pk} ({self.status})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(EventDelivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField()
    response_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    # At most 1 KB of what the receiver answered (WEBHOOK_RESPONSE_BODY_MAX).
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"attempt {self.number} of delivery {self.delivery_id}"
