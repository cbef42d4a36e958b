"""Filters of the payouts admin pages: ledger micro-units and Stripe cents as amounts."""

from django import template

from payouts.models import MICRO_PER_UNIT

register = template.Library()


@register.filter
def micro(amount) -> str:
    """Micro-units as a decimal amount of the currency unit: 12345678 -> 12.345678."""
    amount = int(amount or 0)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), MICRO_PER_UNIT)
    return f"{sign}{whole:,}.{frac:06d}"


@register.filter
def cents(amount) -> str:
    """Cents as a decimal amount of the currency unit: 12345 -> 123.45."""
    amount = int(amount or 0)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 100)
    return f"{sign}{whole:,}.{frac:02d}"
