"""The double-entry ledger: accounts, journal transactions and their entries.

Conventions (see DESIGN.md, Money):

* Amounts are integers in micro-units (1e-6 of the currency unit; 1 cent = 10,000 micro).
* `Entry.amount` is signed: positive is a debit, negative a credit. The entries of a journal
  transaction sum to zero per currency (enforced at commit by PostgreSQL).
* An account's *balance* is presented in its normal orientation: debit-normal accounts
  (payment clearing: money held at Stripe; processor fees: an expense) report sum(amount);
  credit-normal accounts (platform revenue, payee payables) report -sum(amount). A payee's
  available balance is therefore what we owe them, and negative when they owe us (a refund
  after payout).
* Ledger rows are append-only: PostgreSQL refuses UPDATE and DELETE on all three tables
  (migration 0002); corrections are new (reversal) transactions.
* Each transaction carries a SHA-256 chained over the previous one (`sequence` is contiguous,
  `prev_hash` is the previous transaction's `hash`); `verify_ledger` recomputes it.

Only `payouts.services` writes these tables.
"""

from django.db import models
from django.db.models import Q

MICRO_PER_CENT = 10_000
MICRO_PER_UNIT = 1_000_000
GENESIS_HASH = "0" * 64
CURRENCY_RE = r"^[a-z]{3}$"


class LedgerAccount(models.Model):
    """One account of the chart: platform-wide accounts are unique per (kind, currency), payee
    accounts per (payee, kind, currency). Immutable once created."""

    class Kind(models.TextChoices):
        # Debit-normal (asset): the buyers' money held at the payment processor.
        PAYMENT_CLEARING = "payment_clearing"
        # Credit-normal (income): platform fees.
        PLATFORM_REVENUE = "platform_revenue"
        # Debit-normal (expense): the processor's fees, carried by the platform.
        PROCESSOR_FEES = "processor_fees"
        # Credit-normal (liability): a payee's share of sales still inside the refund window.
        PAYEE_PENDING = "payee_pending"
        # Credit-normal (liability): a payee's share released from the hold, payable.
        PAYEE_AVAILABLE = "payee_available"

    PAYEE_KINDS = (Kind.PAYEE_PENDING, Kind.PAYEE_AVAILABLE)
    DEBIT_NORMAL_KINDS = (Kind.PAYMENT_CLEARING, Kind.PROCESSOR_FEES)

    kind = models.CharField(max_length=32, choices=Kind.choices)
    payee = models.ForeignKey(
        "contributors.Payee",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
        # Served by the unique (payee, kind, currency) index.
        db_index=False,
    )
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["payee", "kind", "currency"],
                condition=Q(payee__isnull=False),
                name="uniq_ledger_account_payee",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"],
                condition=Q(payee__isnull=True),
                name="uniq_ledger_account_platform",
            ),
            # Payee kinds belong to a payee; every other kind is platform-wide. Written so that a
            # new platform kind needs no change here.
            models.CheckConstraint(
                name="ledger_account_payee_iff_payee_kind",
                condition=(
                    Q(kind__in=["payee_pending", "payee_available"], payee__isnull=False)
                    | (~Q(kind__in=["payee_pending", "payee_available"]) & Q(payee__isnull=True))
                ),
            ),
            models.CheckConstraint(
                name="ledger_account_currency_format", condition=Q(currency__regex=CURRENCY_RE)
            ),
        ]

    def __str__(self):
        owner = f"payee {self.payee_id}" if self.payee_id else "platform"
        return f"{self.kind} {self.currency} ({owner})"

    @classmethod
    def normal_sign(cls, kind: str) -> int:
        """+1 for debit-normal kinds, -1 for credit-normal ones: balance = sign * sum(amount)."""
        return 1 if kind in cls.DEBIT_NORMAL_KINDS else -1


class JournalTransaction(models.Model):
    """One balanced posting. Unique `idempotency_key` derived from our own rows
    (`sale:<order ref>`, `refund:<stripe refund id>`, `hold-release:sale:<order ref>`,
    `processor-fee:<balance transaction id>`): posting twice returns the first transaction."""

    class Kind(models.TextChoices):
        SALE = "sale"
        REFUND = "refund"
        HOLD_RELEASE = "hold_release"
        PROCESSOR_FEE = "processor_fee"

    # Position in the hash chain: 1, 2, 3, ... without gaps (assigned under the chain lock).
    sequence = models.PositiveBigIntegerField(unique=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # Set by the posting service (not the database clock) because it is part of the hash.
    created_at = models.DateTimeField()
    dataset_version = models.ForeignKey(
        "marketplace.DatasetVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_transactions",
    )
    share_table = models.ForeignKey(
        "contributors.ShareTable",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_transactions",
    )
    # The sale a refund, hold release or processor fee belongs to.
    related_transaction = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="related_transactions",
    )
    # The processor's id for the money movement (charge / payment intent, refund, balance
    # transaction); reconciliation matches on it.
    external_reference = models.CharField(max_length=255, blank=True, db_index=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["sequence"]
        indexes = [
            # Hold release scans sales by age.
            models.Index(fields=["kind", "created_at"], name="payouts_jt_kind_created"),
        ]
        constraints = [
            models.CheckConstraint(
                name="journal_hash_format",
                condition=Q(hash__regex=r"^[0-9a-f]{64}$") & Q(prev_hash__regex=r"^[0-9a-f]{64}$"),
            ),
            models.CheckConstraint(name="journal_sequence_positive", condition=Q(sequence__gt=0)),
            models.CheckConstraint(
                name="journal_idempotency_key_not_blank", condition=~Q(idempotency_key="")
            ),
        ]

    def __str__(self):
        return f"#{self.sequence} {self.idempotency_key}"


class Entry(models.Model):
    """One signed line of a journal transaction (positive = debit), in micro-units.

    The foreign keys are enforced by a set-based statement trigger (migration 0002) instead of
    PostgreSQL's per-row RI triggers: those lock every referenced account FOR KEY SHARE and
    cost several times the insert itself for a sale split over 100,000 payees. Referenced rows
    can never be updated or deleted (immutability triggers), so checking existence once per
    INSERT statement is equivalent."""

    transaction = models.ForeignKey(
        JournalTransaction,
        on_delete=models.PROTECT,
        related_name="entries",
        db_constraint=False,
        db_index=False,
    )
    account = models.ForeignKey(
        LedgerAccount,
        on_delete=models.PROTECT,
        related_name="entries",
        db_constraint=False,
        db_index=False,
    )
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()

    class Meta:
        ordering = ["transaction", "account"]
        constraints = [
            # One line per account per transaction; also the index for per-transaction reads.
            models.UniqueConstraint(
                fields=["transaction", "account"], name="uniq_entry_transaction_account"
            ),
            models.CheckConstraint(name="entry_amount_not_zero", condition=~Q(amount=0)),
        ]
        indexes = [
            # Balances: index-only sums per account.
            models.Index(
                fields=["account"], include=["amount"], name="payouts_entry_account_balance"
            ),
        ]

    def __str__(self):
        return f"{self.amount:+d} {self.currency} on account {self.account_id}"
