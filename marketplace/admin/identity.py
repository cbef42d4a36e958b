"""Users, organisations (upload access, members), API keys, the audit log, Stripe events."""

from allauth.account import admin as account_admin
from allauth.account.models import EmailAddress
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from marketplace.admin.permissions import ReadOnlyAdmin, perm_check, service_message
from marketplace.models import ApiKey, AuditEvent, Membership, Organization, StripeEvent, User
from marketplace.services.identity import membership_remove, organization_decide_upload_access
from marketplace.services.staff import membership_role_set


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Staff users get their rights from the staff groups (reviewer, finance, support);
    `is_superuser` is only ever set on purpose, here or by `createsuperuser`."""

    list_display = ["username", "email", "is_staff", "is_superuser", "staff_groups"]
    list_filter = ["is_staff", "is_superuser", "groups"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="staff groups")
    def staff_groups(self, user):
        return ", ".join(sorted(group.name for group in user.groups.all()))


class MembershipInlineForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role"]


class MembershipInline(admin.TabularInline):
    """Members and their roles. A role change or a removal goes through the identity services
    (audited; removal revokes the member's keys; the last owner stays); people join through
    invitations, never here."""

    model = Membership
    form = MembershipInlineForm
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


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
        "name",
        "slug",
        "upload_access",
        "upload_access_requested_at",
        "upload_approved_at",
        "created_at",
    ]
    inlines = [MembershipInline]
    actions = ["approve_upload_access", "reject_upload_access"]
    has_decide_upload_access_permission = perm_check("marketplace.decide_upload_access")

    def has_add_permission(self, request):
        return False  # organization_create: a signed-in owner creates one

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Every field of the organisation is read-only here: nothing to save."""

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            raise NotImplementedError(formset.model)
        formset.save(commit=False)
        for membership in formset.deleted_objects:
            service_message(
                request,
                lambda m=membership: membership_remove(actor=request.user, membership=m),
                success=f"Removed {membership.user} from {membership.organization}.",
            )
        for membership, changed in formset.changed_objects:
            if "role" in changed:
                service_message(
                    request,
                    lambda m=membership: membership_role_set(
                        actor=request.user, membership=m, role=m.role
                    ),
                    success=f"{membership.user} is now {membership.role}.",
                )

    @admin.action(description="Approve upload access", permissions=["decide_upload_access"])
    def approve_upload_access(self, request, queryset):
        for org in queryset.order_by("pk"):
            organization_decide_upload_access(organization=org, approve=True, actor=request.user)
        messages.success(request, f"Approved upload access for {queryset.count()} organisation(s).")

    @admin.action(description="Reject upload access", permissions=["decide_upload_access"])
    def reject_upload_access(self, request, queryset):
        for org in queryset.order_by("pk"):
            organization_decide_upload_access(organization=org, approve=False, actor=request.user)
        messages.success(request, f"Rejected upload access for {queryset.count()} organisation(s).")


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    """Who belongs where (support looks people up here); changes are made on the
    organisation's page."""

    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "organization__name", "organization__slug"]
    list_select_related = ["user", "organization"]


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


# allauth registers its e-mail addresses admin with an action that names no permission; the
# import above registered it, so it can be replaced by one whose action needs `change`.
admin.site.unregister(EmailAddress)


@admin.register(EmailAddress)
class EmailAddressAdmin(account_admin.EmailAddressAdmin):
    @admin.action(description="Mark selected email addresses as verified", permissions=["change"])
    def make_verified(self, request, queryset):
        return super().make_verified(request, queryset)
