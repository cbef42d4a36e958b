"""Licenses (the contract's catalogue plus custom ones) and dataset terms: the exact text a buyer
accepted, by hash, and who accepted it."""

from django.conf import settings
from django.db import models

from marketplace.models.catalogue import new_public_id


def new_acceptance_id() -> str:
    return new_public_id("ta")


class License(models.Model):
    """A license with structured flags buyers can filter on.

    Catalogue licenses (`organization` empty) are the MDC contract's identifiers, seeded by a
    data migration. Any other `licenseAbbreviation` on a datasheet (conventionally
    `LicenseRef-...`) is a custom license of the publishing organisation; one row per distinct
    (organisation, identifier, name, URL), created when a dataset using it is published. Custom
    licenses start with the most restrictive flags until staff review them (`reviewed`).

    Flags: permissions (`commercial_use`, `derivatives`, `model_training`) say what the license
    allows; obligations (`share_alike`, `attribution`) say what it requires."""

    identifier = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    url = models.URLField(max_length=500, blank=True)
    # Custom licenses: the datasheet's license text; catalogue licenses: empty (the URL is
    # the authoritative text).
    text = models.TextField(blank=True)
    notes = models.TextField(
        blank=True, help_text="Shown to buyers: conditions the flags cannot express."
    )
    organization = models.ForeignKey(
        "marketplace.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="custom_licenses",
    )
    content_sha256 = models.CharField(
        max_length=64, blank=True, help_text="Custom licenses: SHA-256 of identifier, name, URL."
    )
    commercial_use = models.BooleanField(default=False)
    derivatives = models.BooleanField(default=False)
    share_alike = models.BooleanField(default=False)
    attribution = models.BooleanField(default=True)
    model_training = models.BooleanField(default=False)
    reviewed = models.BooleanField(
        default=False, help_text="Flags checked by staff (catalogue licenses always are)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["identifier", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["identifier"],
                condition=models.Q(organization__isnull=True),
                name="uniq_catalogue_license",
            ),
            models.UniqueConstraint(
                fields=["organization", "identifier", "content_sha256"],
                condition=models.Q(organization__isnull=False),
                name="uniq_custom_license",
            ),
        ]

    def __str__(self):
        return self.identifier

    @property
    def is_custom(self) -> bool:
        return self.organization_id is not None or not self.identifier


class TermsDocument(models.Model):
    """The rendered terms of a dataset, kept by hash so the exact text behind every acceptance
    and grant stays readable after the dataset's terms change."""

    dataset = models.ForeignKey(
        "marketplace.Dataset", on_delete=models.PROTECT, related_name="terms_documents"
    )
    terms_hash = models.CharField(max_length=64)
    text = models.TextField()
    flags = models.JSONField(default=dict)
    license_identifier = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "terms_hash"], name="uniq_terms_document"),
        ]

    def __str__(self):
        return f"{self.dataset_id}:{self.terms_hash[:12]}"


class TermsAcceptance(models.Model):
    """One acceptance of one exact version of a dataset's terms, on the record. Append-only:
    accepting again adds a row (who, when, from where)."""

    class Via(models.TextChoices):
        API = "api"
        WEB = "web"

    public_id = models.CharField(max_length=32, unique=True, default=new_acceptance_id)
    dataset = models.ForeignKey(
        "marketplace.Dataset", on_delete=models.PROTECT, related_name="terms_acceptances"
    )
    document = models.ForeignKey(TermsDocument, on_delete=models.PROTECT, related_name="+")
    terms_hash = models.CharField(max_length=64)
    organization = models.ForeignKey(
        "marketplace.Organization", on_delete=models.PROTECT, related_name="terms_acceptances"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    api_key = models.ForeignKey(
        "marketplace.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(max_length=4, choices=Via.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    accepted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-accepted_at", "-pk"]
        indexes = [
            models.Index(
                fields=["organization", "dataset", "terms_hash"], name="terms_acceptance_lookup"
            ),
        ]

    def __str__(self):
        return f"{self.organization_id} accepted {self.terms_hash[:12]}"
