"""Orders: a buyer organisation paying for a dataset through a Stripe PaymentIntent."""

from django.conf import settings
from django.db import models

from marketplace.models.catalogue import new_public_id


def new_order_id() -> str:
    return new_public_id("ord")


class DisputeStatus(models.TextChoices):
    NONE = "", "none"
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Order(models.Model):
    DisputeStatus = DisputeStatus

    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        PARTIALLY_REFUNDED = "partially_refunded"
        REFUNDED = "refunded"
        FAILED = "failed"
        CANCELED = "canceled"

    public_id = models.CharField(max_length=32, unique=True, default=new_order_id)
    organization = models.ForeignKey(
        "marketplace.Organization", on_delete=models.PROTECT, related_name="orders"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    dataset = models.ForeignKey(
        "marketplace.Dataset", on_delete=models.PROTECT, related_name="orders"
    )
    dataset_version = models.ForeignKey(
        "marketplace.DatasetVersion", on_delete=models.PROTECT, related_name="+"
    )
    terms_hash = models.CharField(max_length=64)
    base_price_cents = models.PositiveBigIntegerField()
    platform_fee_cents = models.PositiveBigIntegerField()
    total_price_cents = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    # The client's Idempotency-Key and a fingerprint of its request body: the same key returns
    # the same order; the same key with another body is refused.
    idempotency_key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    client_secret = models.CharField(max_length=255, blank=True)
    charge_id = models.CharField(max_length=255, blank=True)
    refunded_cents = models.PositiveBigIntegerField(default=0)
    disputed_at = models.DateTimeField(null=True, blank=True)
    dispute_reason = models.CharField(max_length=200, blank=True)
    # The charge's dispute at Stripe (licensing.services.disputes): open suspends the grant and
    # holds the payees' shares; won releases both; lost reverses the sale and revokes the grant.
    dispute_status = models.CharField(max_length=8, choices=DisputeStatus.choices, blank=True)
    dispute_id = models.CharField(max_length=255, blank=True, db_index=True)
    dispute_closed_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"], name="uniq_order_idempotency_key"
            ),
            # At most one open (payable) order per organisation and dataset: a second request,
            # whatever its Idempotency-Key, gets the open one, so one purchase is never charged
            # twice.
            models.UniqueConstraint(
                fields=["organization", "dataset"],
                condition=models.Q(status__in=["pending", "failed"]),
                name="uniq_open_order_per_dataset",
            ),
        ]

    def __str__(self):
        return f"{self.public_id} ({self.status})"


class RefundRequest(models.Model):
    """A refund finance staff asked for (licensing.services.refunds.order_refund_request). Its
    pk is the Stripe idempotency key (`staff-refund:<pk>`), stored before the Stripe call; the
    ledger postings come from the refund's webhook / payment sync, as for every refund."""

    class Status(models.TextChoices):
        REQUESTED = "requested"  # stored, Stripe not (yet) answered
        SUCCEEDED = "succeeded"
        PENDING = "pending"
        FAILED = "failed"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refund_requests")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    amount_cents = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    stripe_refund_id = models.CharField(max_length=255, blank=True)
    failure_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A double submit (same order, amount and reason) is the same request: one refund.
            models.UniqueConstraint(
                fields=["order", "amount_cents", "reason"], name="uniq_refund_request_submit"
            ),
        ]

    def __str__(self):
        return f"refund request {self.pk}: {self.amount_cents} of {self.order_id} ({self.status})"
