"""Money in and out of the ledger for sales: the sale itself, refunds and the processor's fees.

Amount parameters are integer cents (as Stripe and orders have them); the ledger stores
micro-units (1 cent = 10,000 micro). Every service is idempotent on a key derived from our own
rows or the processor's ids, and returns the journal transaction.
rows or the processor's ids, and returns the journal transaction.

The package: `sale` (sale_post), `refunds` (refund_post), `fees` (processor_fee_post),
`disputes` (dispute hold, release and loss), `remainder` (what of a sale is not refunded yet) and `checks` (argument and replay checks they
share).
"""

from payouts.services.sales.disputes import (
    dispute_hold_post,
    dispute_loss_post,
    dispute_release_post,
    sale_dispute_open,
    sales_under_open_dispute,
)
from payouts.services.sales.fees import processor_fee_post
from payouts.services.sales.refunds import refund_post
from payouts.services.sales.remainder import SaleRemainder, sale_remainder
from payouts.services.sales.sale import rotation_key_for, sale_post

__all__ = [
    "SaleRemainder",
    "dispute_hold_post",
    "dispute_loss_post",
    "dispute_release_post",
    "processor_fee_post",
    "refund_post",
    "rotation_key_for",
    "sale_dispute_open",
    "sales_under_open_dispute",
    "sale_post",
    "sale_remainder",
]
