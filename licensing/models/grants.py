from django.conf import settings
from django.db import models
from django.utils import timezone

from marketplace.models.catalogue import new_public_id


def new_grant_id() -> str:
    return new_public_id("gr")


def new_certificate_id() -> str:
    return new_public_id("lc")


class GrantQuerySet(models.QuerySet):
    def active(self, now=None):
        """Grants in force at `now`: status active and not past `expires_at` (the one place this
        is decided; `Grant.ACTIVE_SQL` is the same condition for hand-written SQL)."""
        now = now or timezone.now()
        return self.filter(status=Grant.Status.ACTIVE).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class Grant(models.Model):
    """The right of an organisation (every member's key) to download a dataset, all its
    versions, while active, under the terms it was granted with. A grant is in force while its
    status is active and its `expires_at` (if any) is in the future: `is_active()`,
    `Grant.objects.active()` and `ACTIVE_SQL` say so, nothing else does."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        REVOKED = "revoked"
        EXPIRED = "expired"

    class Source(models.TextChoices):
        PURCHASE = "purchase"
        STAFF = "staff"

    public_id = models.CharField(max_length=32, unique=True, default=new_grant_id)
    organization = models.ForeignKey(
        "marketplace.Organization", on_delete=models.PROTECT, related_name="grants"
    )
    dataset = models.ForeignKey(
        "marketplace.Dataset", on_delete=models.PROTECT, related_name="grants"
    )
    terms_hash = models.CharField(max_length=64)
    source = models.CharField(max_length=16, choices=Source.choices)
    # The order that paid for it (orders live in this app, built later): its id as a string;
    # unique, so a retried payment confirmation never makes a second grant.
    order_ref = models.CharField(max_length=64, blank=True)
    price_paid_cents = models.PositiveBigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoke_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GrantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["order_ref"], condition=~models.Q(order_ref=""), name="uniq_grant_order"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "dataset"],
                name="grant_active_lookup",
                condition=models.Q(status="active"),
            ),
            models.Index(fields=["organization", "-created_at"], name="grant_org_newest"),
        ]

    def __str__(self):
        return f"{self.public_id} ({self.status})"

    def is_active(self, now=None) -> bool:
        return self.status == self.Status.ACTIVE and (
            self.expires_at is None or self.expires_at > (now or timezone.now())
        )

    def effective_status(self, now=None) -> str:
        """The status as it stands at `now`: an active grant past its expiry is expired even
        before the periodic task (`grants_expire`) writes it."""
        if self.status == self.Status.ACTIVE and not self.is_active(now):
            return self.Status.EXPIRED
        return self.status


# `Grant.objects.active()` for hand-written SQL over the grants table aliased `g`, with the
# time passed as the parameter `%(now)s` (not the database's now(), which is the start of the
# transaction and would keep a grant alive for as long as a transaction runs).
Grant.ACTIVE_SQL = (
    f"g.status = '{Grant.Status.ACTIVE.value}' AND (g.expires_at IS NULL OR g.expires_at > %(now)s)"
)


class Certificate(models.Model):
    """A signed license certificate (compact JWS) of a grant. A grant gets a new certificate
    when its dataset gains a version (certificates list the versions' SHA-256s); older ones
    stay valid."""

    public_id = models.CharField(max_length=32, unique=True, default=new_certificate_id)
    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, related_name="certificates")
    kid = models.CharField(max_length=64)
    token = models.TextField()
    claims = models.JSONField()
    latest_version_number = models.PositiveIntegerField()
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["-issued_at", "-pk"]

    def __str__(self):
        return self.public_id


class SigningKey(models.Model):
    """An Ed25519 key generated and stored by the server when no key is configured in
    LICENSE_SIGNING_KEYS (development and tests). Production configures its keys in the
    environment instead. Retired keys stay published in the JWKS so old certificates verify."""

    kid = models.CharField(max_length=64, unique=True)
    private_key_pem = models.TextField()
    public_key_b64 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.kid
