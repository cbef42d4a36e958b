"""The ledger itself: accounts, journal transactions and their entries (the verification of
the hash chain: payouts.admin.finance)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from payouts.admin.base import (
    INLINE_ENTRIES_SHOWN,
    ReadOnlyLedgerAdmin,
    _FirstEntriesFormSet,
    _micro,
)
from payouts.models import Entry, JournalTransaction, LedgerAccount
from payouts.services.balances import account_balance


class EntryInline(admin.TabularInline):
    model = Entry
    formset = _FirstEntriesFormSet
    fields = ["account", "currency", "amount", "amount_display"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = f"entries (first {INLINE_ENTRIES_SHOWN}; positive = debit, micro-units)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account").order_by("account_id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="amount (units)")
    def amount_display(self, entry):
        return _micro(entry.amount)


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyLedgerAdmin):
    list_display = ["id", "kind", "currency", "payee", "created_at", "entries_link"]
    list_filter = ["kind", "currency"]
    search_fields = ["=id", "=payee__id", "payee__organization__name", "payee__contributor__email"]
    list_select_related = ["payee__organization", "payee__contributor"]
    readonly_fields = ["kind", "currency", "payee", "created_at", "balance", "entries_link"]
    fields = readonly_fields

    @admin.display(description="balance (normal side, units)")
    def balance(self, account):
        return _micro(account_balance(account=account))

    @admin.display(description="entries")
    def entries_link(self, account):
        url = reverse("admin:payouts_entry_changelist") + f"?account__id__exact={account.pk}"
        return format_html('<a href="{}">entries</a>', url)


@admin.register(JournalTransaction)
class JournalTransactionAdmin(ReadOnlyLedgerAdmin):
    list_display = [
        "sequence",
        "kind",
        "idempotency_key",
        "external_reference",
        "created_at",
        "short_hash",
    ]
    list_filter = ["kind"]
    search_fields = ["=idempotency_key", "=external_reference", "=hash"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "sequence",
        "kind",
        "idempotency_key",
        "created_at",
        "dataset_version",
        "share_table",
        "related_transaction",
        "external_reference",
        "prev_hash",
        "hash",
        "entries_link",
    ]
    fields = readonly_fields
    raw_id_fields = ["dataset_version", "share_table", "related_transaction"]
    inlines = [EntryInline]

    @admin.display(description="hash")
    def short_hash(self, journal):
        return journal.hash[:12]

    @admin.display(description="all entries")
    def entries_link(self, journal):
        url = reverse("admin:payouts_entry_changelist") + f"?transaction__id__exact={journal.pk}"
        return format_html('<a href="{}">{} entries</a>', url, journal.entries.count())


@admin.register(Entry)
class EntryAdmin(ReadOnlyLedgerAdmin):
    list_display = ["id", "transaction", "account", "currency", "amount", "amount_display"]
    list_filter = ["currency", "account__kind"]
    list_select_related = ["transaction", "account"]
    readonly_fields = ["transaction", "account", "currency", "amount", "amount_display"]
    fields = readonly_fields
    show_full_result_count = False

    @admin.display(description="amount (units)")
    def amount_display(self, entry):
        return _micro(entry.amount)
