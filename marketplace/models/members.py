"""The members (regular files) of every published version, one row each: what the duplicates
check looks digests up in (an index lookup per digest, whatever the size of the catalogue) and
what a consent withdrawal resolves to. Filled from the check run's manifest when a version is
published (marketplace/services/review.py), never changed afterwards."""

from django.db import models


class VersionMember(models.Model):
    version = models.ForeignKey(
        "marketplace.DatasetVersion", on_delete=models.PROTECT, related_name="members"
    )
    # Denormalised from the version so the duplicates lookup excludes the dataset without a join.
    dataset = models.ForeignKey("marketplace.Dataset", on_delete=models.PROTECT, related_name="+")
    path = models.TextField()
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        indexes = [
            models.Index(fields=["sha256", "dataset"], name="versionmember_sha_dataset"),
            models.Index(fields=["version", "path"], name="versionmember_version_path"),
        ]

    def __str__(self):
        return self.path
