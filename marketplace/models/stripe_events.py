from django.db import models


class StripeEvent(models.Model):
    """A verified Stripe webhook event, stored once by its id before any processing. Handlers
    registered by each app run asynchronously; a failed run is retried by a periodic task.

    `processing` is a claim with a lease (`claimed_until`), taken in a short transaction: the
    handlers then run with no transaction open and no lock held, and the run's outcome is
    written only if the claim (its attempt number) is still ours. A claim whose worker died
    expires and the periodic task runs the event again."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        PROCESSED = "processed"
        FAILED = "failed"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    livemode = models.BooleanField(default=False)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]

    def __str__(self):
        return f"{self.type} {self.event_id}"
