"""The MDC pricing object. The buyer pays base + platform fee; the fee is base × rate rounded
half up to a whole cent, in exact decimal arithmetic (never floats)."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings


def platform_fee_rate() -> Decimal:
    return Decimal(settings.PLATFORM_FEE_RATE)


def platform_fee_cents(base_price_cents: int) -> int:
    return int(
        (Decimal(base_price_cents) * platform_fee_rate()).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
    )


def pricing_object(*, is_paid: bool, base_price_cents: int | None, currency: str = "usd") -> dict:
    if not is_paid or base_price_cents is None:
        return {
            "isPaid": False,
            "basePriceCents": None,
            "currency": None,
            "platformFeeRate": None,
            "platformFeeCents": None,
            "totalPriceCents": None,
        }
    fee = platform_fee_cents(base_price_cents)
    return {
        "isPaid": True,
        "basePriceCents": base_price_cents,
        "currency": currency,
        "platformFeeRate": str(platform_fee_rate()),
        "platformFeeCents": fee,
        "totalPriceCents": base_price_cents + fee,
    }
