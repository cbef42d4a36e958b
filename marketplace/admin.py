from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from marketplace.models import (
    ApiKey,
    AuditEvent,
    CheckResult,
    CheckRun,
    Dataset,
    DatasetVersion,
    FileUpload,
    Membership,
    Organization,
    StripeEvent,
    Submission,
    User,
)
from marketplace.services.errors import ServiceError
from marketplace.services.identity import organization_decide_upload_access
from marketplace.services.ingestion import check_runs_rerun
from marketplace.services.review import submission_approve, submission_reject


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    pass


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "upload_access",
        "upload_access_requested_at",
        "upload_approved_at",
    ]
    list_filter = ["upload_access"]
    search_fields = ["name", "slug"]
    readonly_fields = [
        "upload_access",
        "upload_access_requested_at",
        "upload_approved_at",
        "created_at",
    ]
    inlines = [MembershipInline]
    actions = ["approve_upload_access", "reject_upload_access"]

    @admin.action(description="Approve upload access")
    def approve_upload_access(self, request, queryset):
        for org in queryset.order_by("pk"):
            organization_decide_upload_access(organization=org, approve=True, actor=request.user)
        messages.success(request, f"Approved upload access for {queryset.count()} organisation(s).")

    @admin.action(description="Reject upload access")
    def reject_upload_access(self, request, queryset):
        for org in queryset.order_by("pk"):
            organization_decide_upload_access(organization=org, approve=False, actor=request.user)
        messages.success(request, f"Rejected upload access for {queryset.count()} organisation(s).")


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = [
        "prefix",
        "name",
        "user",
        "organization",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["organization"]
    search_fields = ["prefix", "name", "user__username"]
    exclude = ["key_hash"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "actor", "organization", "object_type", "object_id"]
    list_filter = ["action"]
    search_fields = ["object_id", "action"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "type", "event_id", "status", "attempts", "processed_at"]
    list_filter = ["status", "type"]
    search_fields = ["event_id"]


# --- catalogue and review ------------------------------------------------------------------


class DatasetVersionInline(admin.TabularInline):
    model = DatasetVersion
    fk_name = "dataset"
    extra = 0
    can_delete = False
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

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
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
    readonly_fields = [
        "public_id",
        "latest_version",
        "size_bytes",
        "has_sample",
        "published_at",
        "created_at",
    ]
    exclude = ["search_vector"]
    inlines = [DatasetVersionInline]


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    """The review queue: filter by status `in_review`, read the datasheet, write a note, then
    approve (publishes a new version) or reject (the note is the reason the provider reads)."""

    list_display = ["name", "public_id", "organization", "status", "submitted_at", "reviewed_at"]
    list_filter = ["status"]
    search_fields = ["name", "public_id", "organization__name"]
    readonly_fields = [
        "public_id",
        "organization",
        "created_by",
        "dataset",
        "status",
        "file_upload",
        "sample_upload",
        "submitted_at",
        "reviewed_at",
        "reviewed_by",
        "deleted_at",
        "created_at",
        "updated_at",
    ]
    actions = ["approve", "reject", "rerun_checks"]

    def get_inlines(self, request, obj):
        return [CheckRunInline] if obj is not None else []

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization")

    @admin.action(description="Approve and publish selected submissions")
    def approve(self, request, queryset):
        for submission in queryset.order_by("pk"):
            try:
                version = submission_approve(submission=submission, actor=request.user)
            except ServiceError as exc:
                messages.error(request, f"{submission}: {exc.message}")
            else:
                messages.success(request, f"Published {version.filename}.")

    @admin.action(description="Reject selected submissions (their review note is the reason)")
    def reject(self, request, queryset):
        for submission in queryset.order_by("pk"):
            try:
                submission_reject(
                    submission=submission, actor=request.user, reason=submission.review_note
                )
            except ServiceError as exc:
                messages.error(
                    request,
                    f"{submission}: {exc.message} Write the reason in its review note first.",
                )
            else:
                messages.success(request, f"Rejected {submission}.")

    @admin.action(description="Re-run the automatic checks")
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


class CheckResultInline(admin.TabularInline):
    model = CheckResult
    extra = 0
    can_delete = False
    fields = ["name", "status", "summary", "details"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CheckRun)
class CheckRunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "submission", "upload", "status", "attempts", "queued_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["submission__public_id", "upload__public_id"]
    exclude = ["manifest", "croissant_facts"]
    inlines = [CheckResultInline]


class CheckRunInline(admin.TabularInline):
    model = CheckRun
    extra = 0
    can_delete = False
    fields = ["upload", "status", "verified_sha256", "attempts", "last_error", "finished_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False
