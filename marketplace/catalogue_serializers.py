"""Wire shapes of the MDC contract (camelCase; ids and checksums are strings)."""

from django.conf import settings
from rest_framework import serializers

from marketplace.models import Dataset, FileUpload, Submission, Task
from marketplace.models.catalogue import LICENSE_FLAG_FIELDS
from marketplace.pagination import PageQuerySerializer
from marketplace.pricing import pricing_object
from marketplace.selectors import UPLOAD_WINDOWS, CatalogueQuery

# --- datasets --------------------------------------------------------------------------------


def dataset_card(dataset: Dataset) -> dict:
    """The <Dataset> object of E1/E3. Needs organization and latest_version loaded."""
    version = dataset.latest_version
    pricing = pricing_object(
        is_paid=dataset.is_paid,
        base_price_cents=dataset.base_price_cents,
        currency=dataset.currency,
    )
    return {
        "id": dataset.public_id,
        "slug": dataset.slug,
        "name": dataset.name,
        "shortDescription": dataset.short_description or None,
        "longDescription": dataset.long_description or None,
        "locale": dataset.locale or None,
        "task": dataset.task or None,
        "format": dataset.format or None,
        "licenseAbbreviation": dataset.license_abbreviation or None,
        "license": dataset.license or None,
        "licenseUrl": dataset.license_url or None,
        "visibility": dataset.visibility,
        "filename": version.filename,
        "checksum": version.sha256,
        "checksumVerified": version.sha256_verified,
        "sizeBytes": version.size_bytes,
        "version": version.number,
        "hasSample": dataset.has_sample,
        "statistics": version.statistics or None,
        "isPaid": pricing["isPaid"],
        "basePriceCents": pricing["basePriceCents"],
        "pricing": pricing,
        "organization": {"name": dataset.organization.name, "slug": dataset.organization.slug},
        # What the terms allow and require (the license's flags narrowed by the datasheet).
        "licenseFlags": {
            wire: getattr(dataset, LICENSE_FLAG_FIELDS[flag]) for wire, flag in FLAG_PARAMS.items()
        },
        "createdAt": dataset.published_at.isoformat(),
        "updatedAt": version.published_at.isoformat(),
        "datasetUrl": f"{settings.PUBLIC_BASE_URL}/api/datasets/{dataset.slug}",
    }


class MultiValueField(serializers.ListField):
    """A repeated query key (`task=ASR&task=TTS`)."""

    def get_value(self, dictionary):
        if hasattr(dictionary, "getlist"):
            values = [v for v in dictionary.getlist(self.field_name) if v != ""]
            return values
        return super().get_value(dictionary)


class FlagField(serializers.BooleanField):
    """An optional `true`/`false` filter: absent or empty is no filter (None), not `false`."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_null=True, default=None, **kwargs)


class CentsOrBytesField(serializers.IntegerField):
    """An optional non-negative integer bound (cents or bytes); empty is no bound."""

    def __init__(self, **kwargs):
        super().__init__(
            required=False, allow_null=True, default=None, min_value=0, max_value=2**62, **kwargs
        )

    def validate_empty_values(self, data):
        if data == "":
            return (True, None)
        return super().validate_empty_values(data)


# Filter parameter → licensing's flag name (the Dataset column is LICENSE_FLAG_FIELDS[flag]).
FLAG_PARAMS = {
    "commercialUse": "commercial_use",
    "derivatives": "derivatives",
    "modelTraining": "model_training",
    "shareAlike": "share_alike",
    "attribution": "attribution",
}
FALSY = {"", "0", "false", "no", "off"}


class CatalogueQuerySerializer(PageQuerySerializer):
    """E1's query string (the API and the web catalogue page).

    Parsed on every uncached catalogue request: its ~25 fields are deep-copied and bound once
    per class instead of once per instance (DRF's default, a sixth of such a request's Python).
    The fields keep no per-request state (values, errors and validated data live on the
    serializer instance), and nothing here reads the context they would reach through it."""

    @property
    def fields(self):
        cls = type(self)
        shared = cls.__dict__.get("_shared_fields")
        if shared is None:
            # What DRF's `fields` computes, bound to a data-less instance of the class.
            shared = serializers.Serializer.fields.func(cls())
            cls._shared_fields = shared
        return shared

    q = serializers.CharField(
        required=False, allow_blank=True, max_length=200, trim_whitespace=True
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=24)
    task = MultiValueField(
        child=serializers.CharField(max_length=100), required=False, default=list
    )
    locale = MultiValueField(
        child=serializers.CharField(max_length=100), required=False, default=list
    )
    license = MultiValueField(
        child=serializers.CharField(max_length=200), required=False, default=list
    )
    format = MultiValueField(
        child=serializers.CharField(max_length=100), required=False, default=list
    )
    sort = serializers.ChoiceField(choices=["relevance", "newest", "size"], required=False)
    sortDirection = serializers.ChoiceField(choices=["asc", "desc"], required=False, default="desc")
    uploadDate = serializers.ChoiceField(choices=list(UPLOAD_WINDOWS), required=False)
    sample = serializers.CharField(required=False, max_length=10)
    pricing = serializers.ChoiceField(choices=["compensated", "free"], required=False)
    commercialUse = FlagField(
        help_text="`true`: only datasets whose terms allow commercial use; `false`: only those "
        "whose terms do not. The terms' flags are the license's narrowed by the datasheet."
    )
    derivatives = FlagField(help_text="`true`/`false`: the terms allow derivative works or not.")
    modelTraining = FlagField(help_text="`true`/`false`: the terms allow model training or not.")
    shareAlike = FlagField(help_text="`true`/`false`: the terms require share-alike or not.")
    attribution = FlagField(help_text="`true`/`false`: the terms require attribution or not.")
    minPriceCents = CentsOrBytesField(
        help_text="Lowest price in cents a buyer pays (`pricing.totalPriceCents`: the base price "
        "plus the platform fee, as the card shows it); free datasets cost 0. Inclusive."
    )
    maxPriceCents = CentsOrBytesField(
        help_text="Highest price in cents a buyer pays (`pricing.totalPriceCents`, base plus "
        "platform fee); free datasets cost 0, so they match any maximum. Inclusive."
    )
    minSizeBytes = CentsOrBytesField(
        help_text="Smallest archive of the latest version, in bytes (`sizeBytes`). Inclusive."
    )
    maxSizeBytes = CentsOrBytesField(
        help_text="Largest archive of the latest version, in bytes (`sizeBytes`). Inclusive."
    )

    def validate(self, attrs):
        for low, high in (("minPriceCents", "maxPriceCents"), ("minSizeBytes", "maxSizeBytes")):
            lowest, highest = attrs.get(low), attrs.get(high)
            if lowest is not None and highest is not None and lowest > highest:
                raise serializers.ValidationError({low: f"Must not be more than {high}."})
        return attrs


def catalogue_query(validated: dict) -> CatalogueQuery:
    """The selector's query from `CatalogueQuerySerializer` data (the API and the web page)."""
    return CatalogueQuery(
        q=validated.get("q", ""),
        tasks=validated["task"],
        locales=validated["locale"],
        licenses=validated["license"],
        formats=validated["format"],
        sort=validated.get("sort", ""),
        direction=validated["sortDirection"],
        upload_date=validated.get("uploadDate", ""),
        has_sample=(
            validated["sample"].strip().lower() not in FALSY if "sample" in validated else False
        ),
        pricing=validated.get("pricing", ""),
        flags={
            flag: validated[wire]
            for wire, flag in FLAG_PARAMS.items()
            if validated.get(wire) is not None
        },
        min_price_cents=validated.get("minPriceCents"),
        max_price_cents=validated.get("maxPriceCents"),
        min_size_bytes=validated.get("minSizeBytes"),
        max_size_bytes=validated.get("maxSizeBytes"),
        page=validated["page"],
        limit=validated["limit"],
    )


class DatasetFiltersSerializer(serializers.Serializer):
    tasks = serializers.ListField(child=serializers.CharField())
    locales = serializers.ListField(child=serializers.CharField())
    licenses = serializers.ListField(child=serializers.CharField())
    formats = serializers.ListField(child=serializers.CharField())


# --- submissions -------------------------------------------------------------------------------

# wire name → model field
SUBMISSION_FIELDS = {
    "name": "name",
    "shortDescription": "short_description",
    "longDescription": "long_description",
    "locale": "locale",
    "task": "task",
    "format": "format",
    "licenseAbbreviation": "license_abbreviation",
    "license": "license",
    "licenseUrl": "license_url",
    "other": "other",
    "restrictions": "restrictions",
    "forbiddenUsage": "forbidden_usage",
    "additionalConditions": "additional_conditions",
    "pointOfContactFullName": "point_of_contact_full_name",
    "pointOfContactEmail": "point_of_contact_email",
    "fundedByFullName": "funded_by_full_name",
    "fundedByEmail": "funded_by_email",
    "legalContactFullName": "legal_contact_full_name",
    "legalContactEmail": "legal_contact_email",
    "createdByFullName": "created_by_full_name",
    "createdByEmail": "created_by_email",
    "intendedUsage": "intended_usage",
    "ethicalReviewProcess": "ethical_review_process",
    "showContactInfo": "show_contact_info",
    "showComplianceAttributes": "show_compliance_attributes",
    "exclusivityOptOut": "exclusivity_opt_out",
    "autoApproveAccessRequests": "auto_approve_access_requests",
    "containsPersonalData": "contains_personal_data",
    "visibility": "visibility",
    "isPaid": "is_paid",
    "basePriceCents": "base_price_cents",
    "currency": "currency",
}


class SubmissionCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class SubmissionUpdateSerializer(serializers.Serializer):
    """E8 body: any subset; unknown keys are ignored (e.g. `fileUploadId` from older SDKs)."""

    name = serializers.CharField(max_length=200, required=False)
    shortDescription = serializers.CharField(max_length=500, required=False)
    longDescription = serializers.CharField(max_length=50_000, required=False)
    locale = serializers.RegexField(
        r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$", max_length=35, required=False
    )
    task = serializers.ChoiceField(choices=[t.value for t in Task], required=False)
    format = serializers.CharField(max_length=50, required=False)
    licenseAbbreviation = serializers.RegexField(
        r"^[A-Za-z0-9.+-]*$", max_length=100, required=False, allow_blank=True
    )
    license = serializers.CharField(max_length=200, required=False)
    licenseUrl = serializers.URLField(max_length=500, required=False)
    other = serializers.CharField(max_length=100_000, required=False)
    restrictions = serializers.CharField(max_length=20_000, required=False)
    forbiddenUsage = serializers.CharField(max_length=20_000, required=False)
    additionalConditions = serializers.CharField(max_length=20_000, required=False)
    pointOfContactFullName = serializers.CharField(max_length=200, required=False)
    pointOfContactEmail = serializers.EmailField(max_length=254, required=False)
    fundedByFullName = serializers.CharField(max_length=200, required=False)
    fundedByEmail = serializers.EmailField(max_length=254, required=False)
    legalContactFullName = serializers.CharField(max_length=200, required=False)
    legalContactEmail = serializers.EmailField(max_length=254, required=False)
    createdByFullName = serializers.CharField(max_length=200, required=False)
    createdByEmail = serializers.EmailField(max_length=254, required=False)
    intendedUsage = serializers.CharField(max_length=20_000, required=False)
    ethicalReviewProcess = serializers.CharField(max_length=20_000, required=False)
    showContactInfo = serializers.BooleanField(required=False)
    showComplianceAttributes = serializers.BooleanField(required=False)
    exclusivityOptOut = serializers.BooleanField(required=False)
    autoApproveAccessRequests = serializers.BooleanField(required=False)
    containsPersonalData = serializers.BooleanField(required=False)
    visibility = serializers.ChoiceField(
        choices=["public", "restricted", "private"], required=False
    )
    isPaid = serializers.BooleanField(required=False)
    basePriceCents = serializers.IntegerField(required=False, min_value=0)
    currency = serializers.CharField(max_length=3, required=False)

    def to_model_fields(self) -> dict:
        return {SUBMISSION_FIELDS[k]: v for k, v in self.validated_data.items()}


class SubmissionSubmitSerializer(serializers.Serializer):
    agreeToSubmit = serializers.BooleanField()


def submission_wire(submission: Submission) -> dict:
    data = {wire: getattr(submission, field) for wire, field in SUBMISSION_FIELDS.items()}
    for wire, value in list(data.items()):
        if value == "":
            data[wire] = None
    data.update(
        {
            "id": submission.public_id,
            "status": submission.status,
            "organizationId": str(submission.organization_id),
            "createdBy": str(submission.created_by_id),
            "fileUploadId": submission.file_upload.public_id if submission.file_upload_id else None,
            "sampleFileReferenceId": (
                submission.sample_upload.public_id if submission.sample_upload_id else None
            ),
            "datasetId": submission.dataset.public_id if submission.dataset_id else None,
            "slug": submission.dataset.slug if submission.dataset_id else None,
            "reviewNote": submission.review_note or None,
            "createdAt": submission.created_at.isoformat(),
            "updatedAt": submission.updated_at.isoformat(),
            "submittedAt": submission.submitted_at.isoformat() if submission.submitted_at else None,
            "reviewedAt": submission.reviewed_at.isoformat() if submission.reviewed_at else None,
        }
    )
    return data


# --- uploads ---------------------------------------------------------------------------------


class UploadStartSerializer(serializers.Serializer):
    submissionId = serializers.CharField(max_length=64, required=False)
    filename = serializers.CharField(max_length=255)
    fileSize = serializers.IntegerField()
    mimeType = serializers.CharField(max_length=100)


class PartUrlQuerySerializer(serializers.Serializer):
    partSize = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**62,
        help_text="The client's part size in bytes (every part but the last). Declared with the "
        "first part request and the same on every later one, it makes each URL sign the part's "
        "exact Content-Length. Optional: the SDK 0.7.0 never sends it.",
    )


class UploadPartSerializer(serializers.Serializer):
    partNumber = serializers.IntegerField()
    etag = serializers.CharField(max_length=200)


class UploadAssembleSerializer(serializers.Serializer):
    uploadId = serializers.CharField(max_length=1024)
    parts = UploadPartSerializer(many=True, allow_empty=False, max_length=10_000)


class UploadCompleteSerializer(UploadAssembleSerializer):
    checksum = serializers.CharField(max_length=128)


def upload_wire(upload: FileUpload) -> dict:
    return {
        "fileUploadId": upload.public_id,
        "uploadId": upload.storage_upload_id,
        "submissionId": upload.submission.public_id,
        "filename": upload.filename,
        "fileSize": upload.declared_size,
        "state": upload.state,
        "expiresAt": upload.expires_at.isoformat(),
        "checksum": upload.declared_sha256 or None,
        "checksumStatus": "declared" if upload.declared_sha256 else None,
    }


def upload_parts_wire(listing) -> dict:
    """An upload and the parts storage holds for it (`UploadParts`)."""
    upload = listing.upload
    return {
        "fileUploadId": upload.public_id,
        "uploadId": upload.storage_upload_id,
        "filename": upload.filename,
        "fileSize": upload.declared_size,
        "state": upload.state,
        "expiresAt": upload.expires_at.isoformat(),
        "parts": [{"partNumber": p.number, "etag": p.etag, "size": p.size} for p in listing.parts],
        "assembled": listing.assembled,
    }


def check_run_wire(run) -> dict:
    return {
        "id": str(run.pk),
        "fileUploadId": run.upload.public_id,
        "kind": run.upload.kind,
        "status": run.status,
        "verifiedChecksum": run.verified_sha256 or None,
        "attempts": run.attempts,
        "statistics": run.statistics,
        "startedAt": run.started_at.isoformat() if run.started_at else None,
        "finishedAt": run.finished_at.isoformat() if run.finished_at else None,
        "results": [
            {"name": r.name, "status": r.status, "summary": r.summary, "details": r.details}
            for r in run.results.all()
        ],
    }
