"""The loading schema (`schema.yaml`) the official SDK's `load_dataset` fetches from a schema
registry, for our datasets: generated from what ingestion learned about the archive, or written
by the provider in the workspace."""

from django.conf import settings
from django.db import models


class RegistrySchema(models.Model):
    class Source(models.TextChoices):
        GENERATED = "generated"
        PROVIDER = "provider"

    dataset = models.OneToOneField(
        "marketplace.Dataset", on_delete=models.CASCADE, related_name="registry_schema"
    )
    # The version the schema was generated for or last saved against; a generated schema of an
    # older version is generated again for the latest one.
    version = models.ForeignKey(
        "marketplace.DatasetVersion", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    # Empty: nothing could be generated (no index file the SDK could load); the registry says 404.
    yaml = models.TextField(blank=True)
    # Why nothing was generated, for the provider's editor.
    note = models.CharField(max_length=500, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"schema.yaml of {self.dataset_id} ({self.source})"
