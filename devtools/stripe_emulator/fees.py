"""Processing fees on charge balance transactions, like Stripe's card pricing (2.9 % + 30 ¢ in
the smallest currency unit). localstripe records every fee as 0, which would leave our
processor-fee postings untested."""

from localstripe.resources import BalanceTransaction

PERCENT_BASIS_POINTS = 290
FIXED_MINOR_UNITS = 30

_original_init = BalanceTransaction.__init__


def _init_with_fee(self, *args, **kwargs):
    _original_init(self, *args, **kwargs)
    if self.type == "charge" and self.amount > 0:
        self.fee = (self.amount * PERCENT_BASIS_POINTS + 5_000) // 10_000 + FIXED_MINOR_UNITS
        self.fee_details = [
            {
                "amount": self.fee,
                "currency": self.currency,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ]


def install() -> None:
    BalanceTransaction.__init__ = _init_with_fee
