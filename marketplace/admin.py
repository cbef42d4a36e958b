from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from marketplace.models import ApiKey, AuditEvent, Membership, Organization, StripeEvent, User
from marketplace.services.identity import organization_decide_upload_access


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
