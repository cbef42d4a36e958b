"""Catalogue: datasets, their immutable published versions, submissions (the datasheet under
review) and upload sessions (one storage multipart upload each)."""

import secrets
import string

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models

_ALPHABET = string.ascii_lowercase + string.digits
_ID_LENGTH = 20
# Random bytes map to the alphabet by `byte % 36`; the 4 byte values from 252 = 7 * 36 up are
# dropped (rejection), so every character stays uniform. One `token_bytes` call and one
# `translate` instead of 20 `secrets.choice` calls (measured ~10x cheaper): the download
# session's id is made on every download request.
_USABLE_BYTES = len(_ALPHABET) * (256 // len(_ALPHABET))
_BYTE_TO_CHAR = bytes(ord(_ALPHABET[b % len(_ALPHABET)]) for b in range(256))
_REJECTED_BYTES = bytes(range(_USABLE_BYTES, 256))


def new_public_id(prefix: str) -> str:
    """Stable, URL-safe, unguessable string id (prefix + 20 base-36 chars ≈ 103 bits)."""
    chars = b""
    while len(chars) < _ID_LENGTH:
        # 24 bytes leave fewer than 20 usable ones about once in 10^6 calls: then draw again.
        chars += secrets.token_bytes(24).translate(_BYTE_TO_CHAR, _REJECTED_BYTES)
    return prefix + chars[:_ID_LENGTH].decode("ascii")


def new_dataset_id() -> str:
    return new_public_id("ds")


def new_submission_id() -> str:
    return new_public_id("sub")


def new_upload_id() -> str:
    return new_public_id("fu")


class Task(models.TextChoices):
    NA = "N/A"
    NLP = "NLP"
    ASR = "ASR"
    LID = "LID"
    TTS = "TTS"
    MT = "MT"
    LM = "LM"
    LLM = "LLM"
    NLU = "NLU"
    NLG = "NLG"
    CALL = "CALL"
    RAG = "RAG"
    CV = "CV"
    ML = "ML"
    OTH = "OTH"


class Visibility(models.TextChoices):
    PUBLIC = "public"
    RESTRICTED = "restricted"
    PRIVATE = "private"


class DatasheetFields(models.Model):
    """The fields a provider writes (MDC §7.2); kept on the submission and copied onto the
    dataset when a version is published."""

    name = models.CharField(max_length=200)
    short_description = models.CharField(max_length=500, blank=True)
    long_description = models.TextField(blank=True)
    locale = models.CharField(max_length=35, blank=True)
    task = models.CharField(max_length=8, choices=Task.choices, blank=True)
    format = models.CharField(max_length=50, blank=True)
    license_abbreviation = models.CharField(max_length=100, blank=True)
    license = models.CharField(max_length=200, blank=True)
    license_url = models.URLField(max_length=500, blank=True)
    visibility = models.CharField(
        max_length=12, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    is_paid = models.BooleanField(default=False)
    base_price_cents = models.PositiveBigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="usd")

    class Meta:
        abstract = True


# License flag (licensing's name) → the Dataset column that holds it for the catalogue.
LICENSE_FLAG_FIELDS = {
    "commercial_use": "allows_commercial_use",
    "derivatives": "allows_derivatives",
    "model_training": "allows_model_training",
    "share_alike": "requires_share_alike",
    "attribution": "requires_attribution",
}


# What E1 lists (published, not removed, public or restricted): the partial indexes' predicate,
# written as the catalogue selector filters so that the planner can prove it.
LISTED_CONDITION = models.Q(
    latest_version__isnull=False,
    removed_at__isnull=True,
    visibility__in=["public", "restricted"],
)


class Dataset(DatasheetFields):
    public_id = models.CharField(max_length=32, unique=True, default=new_dataset_id)
    slug = models.SlugField(max_length=120, unique=True)
    organization = models.ForeignKey(
        "marketplace.Organization", on_delete=models.PROTECT, related_name="datasets"
    )
    latest_version = models.ForeignKey(
        "marketplace.DatasetVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Denormalised from latest_version so listing, filtering and sorting are one table scan.
    size_bytes = models.PositiveBigIntegerField(default=0)
    has_sample = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removal_reason = models.TextField(blank=True)
    search_vector = SearchVectorField(null=True, editable=False)
    # What the dataset's terms allow and require (its license's flags narrowed by the datasheet),
    # written by licensing when a version is published and when staff change a license's flags
    # (see LICENSE_FLAG_FIELDS); the restrictive reading until then. The catalogue filters on them.
    allows_commercial_use = models.BooleanField(default=False)
    allows_derivatives = models.BooleanField(default=False)
    allows_model_training = models.BooleanField(default=False)
    requires_share_alike = models.BooleanField(default=False)
    requires_attribution = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["-published_at", "-id"], name="dataset_newest"),
            # The listed catalogue (what E1 counts and pages through), newest first.
            models.Index(
                fields=["-published_at", "-id"],
                name="dataset_listed_newest",
                condition=models.Q(
                    latest_version__isnull=False,
                    removed_at__isnull=True,
                    visibility__in=["public", "restricted"],
                ),
            ),
            models.Index(fields=["-size_bytes", "-id"], name="dataset_size"),
            models.Index(fields=["task"], name="dataset_task"),
            models.Index(fields=["locale"], name="dataset_locale"),
            models.Index(fields=["license_abbreviation"], name="dataset_license"),
            models.Index(fields=["format"], name="dataset_format"),
            models.Index(fields=["base_price_cents"], name="dataset_base_price"),
            # The two flags buyers filter on most, for the listed catalogue newest first.
            models.Index(
                fields=["-published_at", "-id"],
                name="dataset_listed_commercial",
                condition=models.Q(
                    allows_commercial_use=True,
                    latest_version__isnull=False,
                    removed_at__isnull=True,
                    visibility__in=["public", "restricted"],
                ),
            ),
            models.Index(
                fields=["-published_at", "-id"],
                name="dataset_listed_training",
                condition=models.Q(
                    allows_model_training=True,
                    latest_version__isnull=False,
                    removed_at__isnull=True,
                    visibility__in=["public", "restricted"],
                ),
            ),
            # The listed catalogue by task and locale (the commonest E1 filters): the count of a
            # task + locale [+ upload window] is one index range, index-only once vacuumed (the
            # pricing and sample flags are included for it), and the newest or largest page an
            # ordered index scan. The selector's WHERE must imply LISTED_CONDITION.
            models.Index(
                fields=["task", "locale", "-published_at", "-id"],
                name="dataset_listed_tl_newest",
                include=["is_paid", "has_sample"],
                condition=LISTED_CONDITION,
            ),
            models.Index(
                fields=["task", "locale", "-size_bytes", "-id"],
                name="dataset_listed_tl_size",
                condition=LISTED_CONDITION,
            ),
            # Full-text search over the listed catalogue only (the only text search there is):
            # no Filter on the listing columns, and no entries for what is never listed.
            GinIndex(
                fields=["search_vector"], name="dataset_listed_search", condition=LISTED_CONDITION
            ),
        ]

    def __str__(self):
        return self.name


class DatasetVersion(models.Model):
    """A published file of a dataset. Immutable: rows are only inserted (a trigger refuses
    updates of the file columns); a new upload makes a new version."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    submission = models.ForeignKey(
        "marketplace.Submission", on_delete=models.PROTECT, related_name="versions"
    )
    archive_key = models.CharField(max_length=500)
    filename = models.CharField(max_length=200)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    sha256_verified = models.BooleanField(default=False)
    sample_key = models.CharField(max_length=500, blank=True)
    sample_filename = models.CharField(max_length=200, blank=True)
    sample_size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    sample_sha256 = models.CharField(max_length=64, blank=True)
    # Dataset-card statistics from the ingestion checks (files by type, rows, audio hours, ...).
    statistics = models.JSONField(default=dict, blank=True)
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "number"], name="uniq_dataset_version_number"
            ),
        ]

    def __str__(self):
        return self.filename


class Submission(DatasheetFields):
    class Status(models.TextChoices):
        DRAFT = "draft"
        SUBMITTED = "submitted"
        CHECKING = "checking"
        IN_REVIEW = "in_review"
        APPROVED = "approved"
        REJECTED = "rejected"
        DELETED = "deleted"

    public_id = models.CharField(max_length=32, unique=True, default=new_submission_id)
    organization = models.ForeignKey(
        "marketplace.Organization", on_delete=models.PROTECT, related_name="submissions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.PROTECT, related_name="submissions"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )

    other = models.TextField(blank=True)
    restrictions = models.TextField(blank=True)
    forbidden_usage = models.TextField(blank=True)
    additional_conditions = models.TextField(blank=True)
    point_of_contact_full_name = models.CharField(max_length=200, blank=True)
    point_of_contact_email = models.EmailField(blank=True)
    funded_by_full_name = models.CharField(max_length=200, blank=True)
    funded_by_email = models.EmailField(blank=True)
    legal_contact_full_name = models.CharField(max_length=200, blank=True)
    legal_contact_email = models.EmailField(blank=True)
    created_by_full_name = models.CharField(max_length=200, blank=True)
    created_by_email = models.EmailField(blank=True)
    intended_usage = models.TextField(blank=True)
    ethical_review_process = models.TextField(blank=True)
    show_contact_info = models.BooleanField(default=False)
    show_compliance_attributes = models.BooleanField(default=False)
    exclusivity_opt_out = models.BooleanField(default=False)
    auto_approve_access_requests = models.BooleanField(default=False)
    # What the datasheet states about personal data: False makes the personal-data scan a
    # failing check instead of a warning; None means not stated.
    contains_personal_data = models.BooleanField(null=True, blank=True)

    file_upload = models.ForeignKey(
        "marketplace.FileUpload", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sample_upload = models.ForeignKey(
        "marketplace.FileUpload", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_note = models.TextField(
        blank=True, help_text="Reason shown to the organisation on rejection."
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.name} ({self.status})"


class FileUpload(models.Model):
    class Kind(models.TextChoices):
        DATASET = "dataset"
        SAMPLE = "sample"

    class State(models.TextChoices):
        UPLOADING = "uploading"
        COMPLETED = "completed"
        ABORTED = "aborted"
        EXPIRED = "expired"

    public_id = models.CharField(max_length=32, unique=True, default=new_upload_id)
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="uploads")
    organization = models.ForeignKey(
        "marketplace.Organization", on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.UPLOADING, db_index=True
    )
    key = models.CharField(max_length=500, unique=True)
    storage_upload_id = models.CharField(max_length=1024)
    filename = models.CharField(max_length=255)
    declared_size = models.PositiveBigIntegerField()
    # The part size the client declared with its first part-URL request (the web uploader does;
    # the SDK never does): each part URL then signs its exact Content-Length.
    part_size = models.PositiveBigIntegerField(null=True, blank=True)
    # What the client says the SHA-256 is; ingestion checks verify it against the bytes.
    declared_sha256 = models.CharField(max_length=64, blank=True)
    stored_size = models.PositiveBigIntegerField(null=True, blank=True)
    parts_count = models.PositiveIntegerField(null=True, blank=True)
    # Set when storage assembled the parts before the completion (the browser asks for that
    # while it computes the checksum): the parts storage held then, [[etag, size], ...] in
    # part order, and the assembled object's ETag. Completion and the parts listing read these,
    # as storage no longer holds the multipart upload.
    assembled_parts = models.JSONField(null=True, blank=True)
    assembled_etag = models.CharField(max_length=80, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.filename} ({self.state})"
