from django.conf import settings
from django.db import models

from marketplace.models.catalogue import new_public_id


def new_download_id() -> str:
    return new_public_id("dl")


class DownloadSession(models.Model):
    """One download session (MDC E4/E6): a presigned URL handed out. A resumed SDK download
    asks for a new session, so sessions over-count completed downloads."""

    class Kind(models.TextChoices):
        DATASET = "dataset"
        SAMPLE = "sample"

    class Basis(models.TextChoices):
        OWNER = "owner"
        GRANT = "grant"
        FREE = "free"
        SAMPLE = "sample"

    public_id = models.CharField(max_length=32, unique=True, default=new_download_id)
    # One row per download request, the busiest insert of the app: only the indexes the reads
    # need (the owner's history by dataset); the foreign keys are not indexed on their own.
    dataset = models.ForeignKey(
        "marketplace.Dataset",
        on_delete=models.PROTECT,
        related_name="download_sessions",
        db_index=False,
    )
    version = models.ForeignKey(
        "marketplace.DatasetVersion", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    organization = models.ForeignKey(
        "marketplace.Organization",
        on_delete=models.PROTECT,
        related_name="download_sessions",
        db_index=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    api_key = models.ForeignKey(
        "marketplace.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    grant = models.ForeignKey(
        "licensing.Grant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    basis = models.CharField(max_length=8, choices=Basis.choices)
    user_agent = models.CharField(max_length=500, blank=True)
    source_function = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["dataset", "-created_at", "-id"], name="download_dataset_newest"),
        ]

    def __str__(self):
        return self.public_id
