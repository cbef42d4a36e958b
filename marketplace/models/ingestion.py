"""Automatic checks of an uploaded archive (ingestion), run between `submitted` and `in_review`."""

from django.db import models


class CheckRun(models.Model):
    """One inspection of one uploaded file. Created once per upload (unique), so a redelivered
    or re-queued task continues the same run; its results are written once, at the end, in the
    transaction that finishes the run."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        PASSED = "passed"
        WARNED = "warned"
        FAILED = "failed"
        ERROR = "error"

    FINAL = (Status.PASSED, Status.WARNED, Status.FAILED, Status.ERROR)

    submission = models.ForeignKey(
        "marketplace.Submission", on_delete=models.CASCADE, related_name="check_runs"
    )
    upload = models.OneToOneField(
        "marketplace.FileUpload", on_delete=models.CASCADE, related_name="check_run"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    verified_sha256 = models.CharField(max_length=64, blank=True)
    verified_size = models.PositiveBigIntegerField(null=True, blank=True)
    # Compact manifest: [[path, size, sha256], ...] and the card statistics.
    manifest = models.JSONField(default=list, blank=True)
    statistics = models.JSONField(default=dict, blank=True)
    croissant_facts = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-queued_at", "-pk"]

    def __str__(self):
        return f"checks of {self.upload_id} ({self.status})"


class CheckResult(models.Model):
    class Status(models.TextChoices):
        PASS = "pass"
        WARN = "warn"
        FAIL = "fail"
        ERROR = "error"
        SKIPPED = "skipped"

    run = models.ForeignKey(CheckRun, on_delete=models.CASCADE, related_name="results")
    name = models.CharField(max_length=64)
    status = models.CharField(max_length=8, choices=Status.choices)
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    # What only staff may read: which other organisation's dataset an archive duplicates, the
    # internal error of a scanner or of storage. `summary` and `details` are the provider's.
    staff_details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["run", "name"], name="uniq_check_result_per_run")
        ]

    def __str__(self):
        return f"{self.name}: {self.status}"
