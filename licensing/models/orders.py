"""Orders: a buyer organisation paying for a dataset through a Stripe PaymentIntent."""

from django.conf import settings
from django.db import models

from marketplace.models.catalogue import new_public_id


def new_order_id() -> str:
    return new_public_id("ord")


class Order(models.Model):
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
