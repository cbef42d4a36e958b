"""The ledger's services: every write to payouts' ledger tables goes through these.

Amount arguments are cents; the ledger (and every balance returned) is in micro-units
(`payouts.models.MICRO_PER_CENT` = 10,000 micro per cent).

Postings:
    sale_post(*, order_ref, dataset_version, gross_cents, platform_fee_cents, currency,
              share_table=None, external_reference="") -> JournalTransaction
    refund_post(*, refund_id, amount_cents, order_ref=None, sale=None) -> JournalTransaction
    dispute_hold_post / dispute_release_post(*, dispute_id, order_ref) -> JournalTransaction
    dispute_loss_post(*, dispute_id, amount_cents, order_ref) -> JournalTransaction
    processor_fee_post(*, balance_transaction_id, fee_cents, currency, order_ref=None,
                       sale=None) -> JournalTransaction
    sale_hold_release(*, sale, now=None) -> JournalTransaction
    holds_release(*, now=None, batch_size=200) -> HoldsReleaseResult
    journal_post(*, idempotency_key, kind, lines, ...) -> (JournalTransaction, created)
        the generic append (payout runs build their EntryLines and call it)

Allocation:
    split_allocate(amount_micro, weights, *, rotation_key) -> list[int]

Reads:
    payee_balances(*, payee_id) -> {currency: PayeeBalance(pending, available)}
    account_balance(*, account) -> int
    platform_balances(*, currency) -> {kind: int}
    currency_totals() -> {currency: int}    (always zero)
    sale_remainder(sale) -> SaleRemainder   (what of a sale is not refunded yet)
    ledger_verify() -> LedgerVerification
"""

from payouts.services.balances import (
    PayeeBalance,
    account_balance,
    currency_totals,
    payee_balances,
    platform_balances,
)
from payouts.services.holds import (
    HoldsReleaseResult,
    holds_release,
    refund_window,
    sale_hold_release,
    sales_due_for_release,
)
from payouts.services.journal import (
    AccountRef,
    EntryLines,
    journal_post,
    ledger_chain_lock,
    payee_account,
    payee_accounts_ensure,
    platform_account,
)
from payouts.services.sales import (
    SaleRemainder,
    dispute_hold_post,
    dispute_loss_post,
    dispute_release_post,
    processor_fee_post,
    refund_post,
    sale_post,
    sale_remainder,
)
from payouts.services.split import split_allocate
from payouts.services.verify import LedgerVerification, ledger_verify

__all__ = [
    "AccountRef",
    "EntryLines",
    "HoldsReleaseResult",
    "LedgerVerification",
    "PayeeBalance",
    "SaleRemainder",
    "account_balance",
    "currency_totals",
    "dispute_hold_post",
    "dispute_loss_post",
    "dispute_release_post",
    "holds_release",
    "journal_post",
    "ledger_chain_lock",
    "ledger_verify",
    "payee_account",
    "payee_accounts_ensure",
    "payee_balances",
    "platform_account",
    "platform_balances",
    "processor_fee_post",
    "refund_post",
    "refund_window",
    "sale_hold_release",
    "sale_post",
    "sale_remainder",
    "sales_due_for_release",
    "split_allocate",
]
