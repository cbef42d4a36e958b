"""What every ledger admin shares: read-only ModelAdmins and inlines, micro-unit display."""

from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from payouts.models import MICRO_PER_UNIT

INLINE_ENTRIES_SHOWN = 200


def _micro(amount: int) -> str:
    """Micro-units as a decimal amount of the currency unit: 12345678 -> 12.345678."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), MICRO_PER_UNIT)
    return f"{sign}{whole:,}.{frac:06d}"


class ReadOnlyLedgerAdmin(admin.ModelAdmin):
    actions = None

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _FirstEntriesFormSet(BaseInlineFormSet):
    """A sale can have 100,000 entries: the inline shows the first ones and links to the rest."""

    def get_queryset(self):
        return super().get_queryset()[:INLINE_ENTRIES_SHOWN]
