"""Read-only admin: contributors, payees, share tables and payout accounts change through the
services only (a share table is never edited; a change is a new version)."""

from django.contrib import admin, messages

from contributors.models import (
    ConsentWithdrawal,
    Contributor,
    MemberMapping,
    Payee,
    PayoutAccount,
    ShareLine,
    ShareTable,
    WithdrawnMember,
)
from contributors.services.payout_accounts import payout_account_refresh
from contributors.services.shares import INVITE_TASK, basis_points_format
from marketplace.admin.permissions import ReadOnlyAdmin, perm_check
from marketplace.tasking import task_enqueue


@admin.register(Contributor)
class ContributorAdmin(ReadOnlyAdmin):
    list_display = ["email", "name", "user", "invited_at", "claimed_at", "created_at"]
    list_filter = ["claimed_at", "invited_at"]
    search_fields = ["email", "name", "user__username", "user__email"]
    list_select_related = ["user"]
    exclude = ["invite_token_hash"]
    actions = ["send_invitation"]
    # Contributors are the providers' people: resending is a superuser's fix, no group's job.
    has_send_invitation_permission = perm_check("contributors.change_contributor")

    @admin.action(
        description="Send the invitation again (new link; old links stop working)",
        permissions=["send_invitation"],
    )
    def send_invitation(self, request, queryset):
        pks = list(queryset.filter(user__isnull=True).order_by("pk").values_list("pk", flat=True))
        for pk in pks:
            task_enqueue(INVITE_TASK, pk)
        messages.success(request, f"Queued {len(pks)} invitation(s).")


@admin.register(Payee)
class PayeeAdmin(ReadOnlyAdmin):
    list_display = ["pk", "kind", "organization", "contributor", "created_at"]
    list_filter = ["kind"]
    search_fields = ["organization__name", "contributor__email", "contributor__name"]
    list_select_related = ["organization", "contributor"]


class ShareLineInline(admin.TabularInline):
    model = ShareLine
    fields = ["payee", "name", "weight", "share"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("table", "payee__organization", "payee__contributor")
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="share")
    def share(self, line):
        if line.table.basis == ShareTable.Basis.PERCENTAGE:
            return f"{basis_points_format(line.weight)} %"
        return f"weight {line.weight}"


@admin.register(ShareTable)
class ShareTableAdmin(ReadOnlyAdmin):
    list_display = ["dataset", "version", "basis", "created_by", "created_at"]
    list_filter = ["basis"]
    search_fields = ["dataset__public_id", "dataset__name", "dataset__slug"]
    list_select_related = ["dataset", "created_by"]
    inlines = [ShareLineInline]


@admin.register(PayoutAccount)
class PayoutAccountAdmin(ReadOnlyAdmin):
    list_display = [
        "stripe_account_id",
        "payee",
        "details_submitted",
        "payouts_enabled",
        "created_at",
        "updated_at",
    ]
    list_filter = ["payouts_enabled", "details_submitted"]
    search_fields = [
        "stripe_account_id",
        "payee__organization__name",
        "payee__contributor__email",
    ]
    list_select_related = ["payee__organization", "payee__contributor"]
    actions = ["refresh_from_stripe"]
    # Whether an account can be paid decides the next payout run: finance's.
    has_refresh_from_stripe_permission = perm_check("payouts.execute_payoutrun")

    @admin.action(description="Refresh the status from Stripe", permissions=["refresh_from_stripe"])
    def refresh_from_stripe(self, request, queryset):
        for account in queryset.order_by("pk"):
            try:
                payout_account_refresh(stripe_account_id=account.stripe_account_id)
            except Exception as exc:  # noqa: BLE001 - shown to the admin, one account at a time
                messages.error(request, f"{account.stripe_account_id}: {exc}")
        messages.success(request, "Refreshed.")


class OverdueFilter(admin.SimpleListFilter):
    """Staff follow withdrawals whose provider has not published a version without the members
    by the deadline."""

    title = "deadline"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue (open, past the deadline)"), ("open", "Open, not yet due")]

    def queryset(self, request, queryset):
        from django.utils import timezone

        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(status=ConsentWithdrawal.Status.OPEN, deadline__lt=now)
        if self.value() == "open":
            return queryset.filter(status=ConsentWithdrawal.Status.OPEN, deadline__gte=now)
        return queryset


class WithdrawnMemberInline(admin.TabularInline):
    model = WithdrawnMember
    fields = ["version", "path", "size", "sha256"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(ConsentWithdrawal)
class ConsentWithdrawalAdmin(ReadOnlyAdmin):
    list_display = [
        "public_id",
        "dataset",
        "contributor",
        "source",
        "created_at",
        "deadline",
        "status",
        "overdue",
    ]
    list_filter = [OverdueFilter, "status", "source"]
    search_fields = ["public_id", "dataset__public_id", "dataset__name", "contributor__email"]
    list_select_related = ["dataset", "contributor"]
    inlines = [WithdrawnMemberInline]
    ordering = ["deadline", "pk"]

    @admin.display(boolean=True, description="overdue")
    def overdue(self, obj):
        return obj.is_overdue


@admin.register(MemberMapping)
class MemberMappingAdmin(ReadOnlyAdmin):
    list_display = ["dataset", "contributor", "path_prefix", "created_at"]
    search_fields = ["dataset__public_id", "contributor__email", "path_prefix"]
    list_select_related = ["dataset", "contributor"]
