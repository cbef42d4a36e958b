"""Datasets, submissions (the review queue), uploads and check runs.

Change forms are read-only except what a service changes: a dataset's visibility and price
(`dataset_listing_update`) and its takedown with a reason (`dataset_remove`), a submission's
review note (`submission_review_note_set`); approval, rejection and check re-runs are actions.
Each write is audited by its service, which also invalidates the catalogue cache when what the
public catalogue shows changes. Nothing is added or deleted here: the services own the
lifecycle of these rows."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from marketplace.admin.permissions import (
    ReadOnlyAdmin,
    ReadOnlyInline,
    perm_check,
    service_message,
)
from marketplace.models import (
    CheckResult,
    CheckRun,
    Dataset,
    DatasetVersion,
    FileUpload,
    Submission,
)
from marketplace.services.errors import Invalid
from marketplace.services.ingestion import check_runs_rerun
from marketplace.services.review import dataset_remove, submission_approve, submission_reject
from marketplace.services.staff import (
    dataset_listing_update,
    dataset_listing_validate,
    submission_review_note_set,
)

LISTING_FIELDS = ["visibility", "is_paid", "base_price_cents"]
TAKEDOWN = "marketplace.takedown_dataset"


def _all_fields_but(model, editable) -> list[str]:
    return [
        f.name for f in model._meta.fields if f.name not in editable and f.name != "search_vector"
    ]


class DatasetVersionInline(ReadOnlyInline):
    model = DatasetVersion
    fk_name = "dataset"
    fields = [
        "number",
        "filename",
        "size_bytes",
        "sha256",
        "sha256_verified",
        "sample_filename",
        "published_at",
    ]
    readonly_fields = fields


class DatasetForm(forms.ModelForm):
    takedown_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Take down with this reason",
        help_text="Removes the dataset from the platform for good (the API answers 410); the "
        "reason is kept on the record. Leave empty to keep it listed.",
    )

    class Meta:
        model = Dataset
        fields = LISTING_FIELDS

    def clean(self):
        data = super().clean()
        listing_changed = bool(set(LISTING_FIELDS) & set(self.changed_data))
        if self.instance.removed_at is not None and (
            listing_changed or data.get("takedown_reason")
        ):
            raise ValidationError("This dataset was removed from the platform; it stays as it is.")
        if listing_changed:
            try:
                dataset_listing_validate(
                    visibility=data.get("visibility"),
                    is_paid=bool(data.get("is_paid")),
                    base_price_cents=data.get("base_price_cents"),
                )
            except Invalid as exc:
                raise ValidationError(exc.message) from exc
        return data


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    form = DatasetForm
    list_display = [
        "name",
        "slug",
        "public_id",
        "organization",
        "visibility",
        "is_paid",
        "published_at",
        "removed_at",
    ]
    list_filter = ["visibility", "is_paid", "task"]
    search_fields = ["name", "slug", "public_id"]
    list_select_related = ["organization"]
    inlines = [DatasetVersionInline]

    def has_add_permission(self, request):
        return False  # a dataset is published by approving a submission

    def has_delete_permission(self, request, obj=None):
        return False  # taken down with a reason instead

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.removed_at is not None:
            return _all_fields_but(Dataset, ())
        return _all_fields_but(Dataset, LISTING_FIELDS)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        removed = obj is not None and obj.removed_at is not None
        if removed or not request.user.has_perm(TAKEDOWN):
            form.base_fields.pop("takedown_reason", None)
        return form

    def save_model(self, request, obj, form, change):
        if not change:
            raise PermissionDenied
        data = form.cleaned_data
        if set(LISTING_FIELDS) & set(form.changed_data):
            service_message(
                request,
                lambda: dataset_listing_update(
                    actor=request.user,
                    dataset=obj,
                    visibility=data["visibility"],
                    is_paid=bool(data["is_paid"]),
                    base_price_cents=data["base_price_cents"],
                ),
            )
        reason = (data.get("takedown_reason") or "").strip()
        if reason:
            if not request.user.has_perm(TAKEDOWN):
                raise PermissionDenied
            dataset_remove(dataset=obj, actor=request.user, reason=reason)
            messages.warning(request, f"{obj} was taken down.")
        obj.refresh_from_db()


class SubmissionForm(forms.ModelForm):
    class Meta:
        model = Submission
        fields = ["review_note"]

    def clean(self):
        data = super().clean()
        if (
            "review_note" in self.changed_data
            and self.instance.status != Submission.Status.IN_REVIEW
        ):
            raise ValidationError(
                f"Only a submission in review takes a review note (this one is "
                f"{self.instance.status})."
            )
        return data


class CheckRunInline(ReadOnlyInline):
    model = CheckRun
    fields = ["upload", "status", "verified_sha256", "attempts", "last_error", "finished_at"]
    readonly_fields = fields
    show_change_link = True


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    """The review queue: filter by status `in_review`, read the datasheet, write a note, then
    approve (publishes a new version) or reject (the note is the reason the provider reads)."""

    form = SubmissionForm
    list_display = ["name", "public_id", "organization", "status", "submitted_at", "reviewed_at"]
    list_filter = ["status"]
    search_fields = ["name", "public_id", "organization__name"]
    actions = ["approve", "reject", "rerun_checks"]
    has_review_submission_permission = perm_check("marketplace.review_submission")
    has_rerun_checks_permission = perm_check("marketplace.rerun_checks")

    def has_add_permission(self, request):
        return False  # providers create submissions

    def has_delete_permission(self, request, obj=None):
        return False  # submission_delete is the provider's

    def get_readonly_fields(self, request, obj=None):
        in_review = obj is not None and obj.status == Submission.Status.IN_REVIEW
        return _all_fields_but(Submission, ["review_note"] if in_review else [])

    def get_inlines(self, request, obj):
        return [CheckRunInline] if obj is not None else []

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization")

    def save_model(self, request, obj, form, change):
        if not change:
            raise PermissionDenied
        if "review_note" in form.changed_data:
            service_message(
                request,
                lambda: submission_review_note_set(
                    actor=request.user, submission=obj, note=form.cleaned_data["review_note"]
                ),
            )
        obj.refresh_from_db()

    @admin.action(
        description="Approve and publish selected submissions", permissions=["review_submission"]
    )
    def approve(self, request, queryset):
        for submission in queryset.order_by("pk"):
            service_message(
                request,
                lambda s=submission: submission_approve(submission=s, actor=request.user),
                success=f"Published {submission.name}.",
            )

    @admin.action(
        description="Reject selected submissions (their review note is the reason)",
        permissions=["review_submission"],
    )
    def reject(self, request, queryset):
        for submission in queryset.order_by("pk"):
            service_message(
                request,
                lambda s=submission: submission_reject(
                    submission=s, actor=request.user, reason=s.review_note
                ),
                success=f"Rejected {submission}.",
            )

    @admin.action(description="Re-run the automatic checks", permissions=["rerun_checks"])
    def rerun_checks(self, request, queryset):
        for submission in queryset.order_by("pk"):
            check_runs_rerun(submission=submission, actor=request.user)
        messages.success(request, f"Checks queued again for {queryset.count()} submission(s).")


@admin.register(FileUpload)
class FileUploadAdmin(ReadOnlyAdmin):
    list_display = [
        "filename",
        "public_id",
        "kind",
        "state",
        "organization",
        "declared_size",
        "created_at",
    ]
    list_filter = ["state", "kind"]
    search_fields = ["public_id", "filename", "key"]


class CheckResultInline(ReadOnlyInline):
    model = CheckResult
    # staff_details: which published dataset an archive duplicates, a scanner's raw error.
    fields = ["name", "status", "summary", "details", "staff_details"]
    readonly_fields = fields


@admin.register(CheckRun)
class CheckRunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "submission", "upload", "status", "attempts", "queued_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["submission__public_id", "upload__public_id"]
    exclude = ["manifest", "croissant_facts"]
    inlines = [CheckResultInline]
