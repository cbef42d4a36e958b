"""Amounts as people read them. The ledger counts integer micro-units (1e-6 of the currency
unit) and payouts whole cents (see DESIGN.md, Money); nothing here is ever a float."""

from payouts.models import MICRO_PER_CENT, MICRO_PER_UNIT


def micros_text(amount: int, currency: str = "") -> str:
    """Micro-units in the currency unit: whole cents with two decimals (1_234_500_000 ->
    "1,234.50"); a sub-cent part keeps the digits it needs ("3.333334"), so what is shown is
    exactly what is owed. The currency code, if given, follows ("1,234.50 USD")."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(int(amount)), MICRO_PER_UNIT)
    decimals = f"{frac:06d}".rstrip("0").ljust(2, "0")
    text = f"{sign}{whole:,}.{decimals}"
    return f"{text} {currency.upper()}" if currency else text


def cents_text(cents: int, currency: str = "") -> str:
    return micros_text(int(cents) * MICRO_PER_CENT, currency)
