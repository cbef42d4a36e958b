from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from licensing.admin_orders import OrderRefundMixin
from licensing.models import (
    AccessRequest,
    Certificate,
    DeletionManifest,
    DownloadSession,
    Grant,
    License,
    Order,
    SigningKey,
    TermsAcceptance,
    TermsDocument,
)
from licensing.services.access_requests import stale_after
from licensing.services.grants import grant_revoke
from licensing.services.license_review import FLAGS, license_flags_set
from marketplace.admin.permissions import ReadOnlyAdmin, perm_check


class LicenseForm(forms.ModelForm):
    class Meta:
        model = License
        fields = [*FLAGS, "notes", "reviewed"]


@admin.register(License)
class LicenseAdmin(admin.ModelAdmin):
    """Staff review custom licenses here: set the flags to what the license text allows, then
    tick `reviewed`. Changing flags changes the terms hash of every dataset under the license
    (buyers accept again)."""

    list_display = [
        "identifier",
        "name",
        "organization",
        "commercial_use",
        "derivatives",
        "model_training",
        "share_alike",
        "attribution",
        "reviewed",
    ]
    list_filter = ["reviewed", ("organization", admin.EmptyFieldListFilter)]
    search_fields = ["identifier", "name", "organization__name"]
    form = LicenseForm
    readonly_fields = [
        "identifier",
        "name",
        "url",
        "text",
        "organization",
        "content_sha256",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False  # catalogue licenses are seeded, custom ones come from datasheets

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Through `license_flags_set`: audited, and the catalogue cache invalidated."""
        if not change:
            raise PermissionDenied
        data = form.cleaned_data
        license_flags_set(
            actor=request.user,
            license=obj,
            flags={name: data[name] for name in FLAGS},
            notes=data["notes"],
            reviewed=data["reviewed"],
        )
        obj.refresh_from_db()


@admin.register(TermsDocument)
class TermsDocumentAdmin(ReadOnlyAdmin):
    list_display = ["dataset", "terms_hash", "license_identifier", "created_at"]
    search_fields = ["terms_hash", "dataset__public_id"]


@admin.register(TermsAcceptance)
class TermsAcceptanceAdmin(ReadOnlyAdmin):
    list_display = ["accepted_at", "dataset", "organization", "user", "via", "ip", "terms_hash"]
    list_filter = ["via"]
    search_fields = ["public_id", "terms_hash", "dataset__public_id", "organization__name"]
    list_select_related = ["dataset", "organization", "user"]


class StaleFilter(admin.SimpleListFilter):
    title = "stale (pending too long)"
    parameter_name = "stale"

    def lookups(self, request, model_admin):
        return [("yes", f"Pending for more than {stale_after().days} days"), ("no", "Not stale")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status=AccessRequest.Status.PENDING, stale_since__isnull=False)
        if self.value() == "no":
            return queryset.exclude(status=AccessRequest.Status.PENDING, stale_since__isnull=False)
        return queryset


@admin.register(AccessRequest)
class AccessRequestAdmin(ReadOnlyAdmin):
    list_display = [
        "public_id",
        "dataset",
        "organization",
        "status",
        "requested_at",
        "stale_since",
        "decided_at",
    ]
    list_filter = [StaleFilter, "status", "auto_approved"]
    search_fields = ["public_id", "dataset__public_id", "organization__name", "organization_name"]
    list_select_related = ["dataset", "organization"]


class CertificateInline(admin.TabularInline):
    model = Certificate
    extra = 0
    can_delete = False
    fields = ["public_id", "kid", "latest_version_number", "issued_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = [
        "public_id",
        "organization",
        "dataset",
        "status",
        "source",
        "price_paid_cents",
        "created_at",
        "revoked_at",
    ]
    list_filter = ["status", "source"]
    search_fields = ["public_id", "order_ref", "dataset__public_id", "organization__name"]
    list_select_related = ["organization", "dataset"]
    inlines = [CertificateInline]
    actions = ["revoke"]
    # A grant is what an order bought: revoking one by hand is finance's (refunds, disputes).
    has_revoke_permission = perm_check("licensing.refund_order")

    @admin.action(description="Revoke selected grants", permissions=["revoke"])
    def revoke(self, request, queryset):
        for grant in queryset.order_by("pk"):
            grant_revoke(grant=grant, actor=request.user, reason="Revoked by staff.")
        messages.success(request, f"Revoked {queryset.count()} grant(s).")


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    list_display = ["kid", "created_at", "retired_at"]
    exclude = ["private_key_pem"]


@admin.register(DownloadSession)
class DownloadSessionAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "dataset",
        "organization",
        "user",
        "kind",
        "basis",
        "source_function",
        "ip",
    ]
    list_filter = ["kind", "basis", "source_function"]
    search_fields = ["public_id", "dataset__public_id", "organization__name"]
    list_select_related = ["dataset", "organization", "user"]


class DisputedFilter(admin.SimpleListFilter):
    title = "disputed"
    parameter_name = "disputed"

    def lookups(self, request, model_admin):
        return [("yes", "Disputed (needs staff)"), ("no", "Not disputed")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(disputed_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(disputed_at__isnull=True)
        return queryset


@admin.register(Order)
class OrderAdmin(OrderRefundMixin, ReadOnlyAdmin):
    """Orders are changed only by payment events; disputes are flagged here for staff. Finance
    staff (`licensing.refund_order`) refund from an order's page (licensing.admin_orders)."""

    list_display = [
        "public_id",
        "organization",
        "dataset",
        "status",
        "total_price_cents",
        "refunded_cents",
        "disputed_at",
        "created_at",
    ]
    list_filter = ["status", DisputedFilter]
    search_fields = ["public_id", "payment_intent_id", "charge_id", "organization__name"]
    exclude = ["client_secret"]


class AcknowledgedFilter(admin.SimpleListFilter):
    title = "acknowledged"
    parameter_name = "acknowledged"

    def lookups(self, request, model_admin):
        return [
            ("no", "Not acknowledged"),
            ("yes", "Acknowledged"),
            ("replaced", "Replaced by a later revision"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "no":  # waiting for the licensee: the latest revisions only
            return queryset.unacknowledged()
        if self.value() == "yes":
            return queryset.filter(acknowledged_at__isnull=False)
        if self.value() == "replaced":
            return queryset.filter(superseded_by__isnull=False)
        return queryset


@admin.register(DeletionManifest)
class DeletionManifestAdmin(ReadOnlyAdmin):
    """Signed deletion manifests sent to licensees after a consent withdrawal; staff follow
    those not acknowledged (filter), oldest deadline first."""

    list_display = [
        "public_id",
        "dataset",
        "organization",
        "grant",
        "revision",
        "deadline",
        "created_at",
        "acknowledged_at",
    ]
    list_filter = [AcknowledgedFilter]
    search_fields = ["public_id", "dataset__public_id", "organization__name", "grant__public_id"]
    list_select_related = ["dataset", "organization", "grant"]
    ordering = ["acknowledged_at", "deadline", "pk"]
    exclude = ["token"]
