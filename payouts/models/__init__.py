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

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Cast

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
        # Credit-normal (liability): money reserved for payout lines whose Stripe transfer is
        # not made yet; zero whenever no payout line is pending or sending.
        PAYOUT_IN_TRANSIT = "payout_in_transit"

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
        indexes = [
            # A payout run reads every payee account of one kind and currency in payee order:
            # one index-only range instead of a scan of every currency's accounts.
            models.Index(
                fields=["kind", "currency", "payee"],
                include=["id"],
                condition=Q(payee__isnull=False),
                name="ledger_account_kind_payee",
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
    `processor-fee:<balance transaction id>`, `dispute-hold|dispute-release|dispute-loss:<dispute
    id>`): posting twice returns the first transaction."""

    class Kind(models.TextChoices):
        SALE = "sale"
        REFUND = "refund"
        HOLD_RELEASE = "hold_release"
        PROCESSOR_FEE = "processor_fee"
        # A payout run reserves each line's amount: payee available -> payout in transit
        # (`payout-run:<run id>`, one entry per line).
        PAYOUT_RESERVE = "payout_reserve"
        # A line's Stripe transfer was made: payout in transit -> payment clearing
        # (`payout-line:<line id>`, external_reference = the transfer id).
        PAYOUT = "payout"
        # A line's transfer was refused: payout in transit -> payee available
        # (`payout-reversal:<line id>`).
        PAYOUT_REVERSAL = "payout_reversal"
        # A charge disputed at Stripe (`dispute-hold:<dispute id>`, external_reference = the
        # dispute id): the sale's payee shares go back from available to pending if they had
        # been released (no entries otherwise); while open, holds_release skips the sale.
        DISPUTE_HOLD = "dispute_hold"
        # Dispute won (`dispute-release:<dispute id>`): what the hold moved goes back.
        DISPUTE_RELEASE = "dispute_release"
        # Dispute lost (`dispute-loss:<dispute id>`): reversed like a full refund of what is
        # left of the sale.
        DISPUTE_LOSS = "dispute_loss"

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


class PayoutRun(models.Model):
    """One payout run in one currency: a line per payee that was owed at least the threshold.
    Created by `payout_run_create`, executed (any number of times) by `payout_run_execute`."""

    class Status(models.TextChoices):
        OPEN = "open"  # some line is pending, sending or sent
        COMPLETED = "completed"  # every line is paid or failed

    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    threshold_cents = models.PositiveBigIntegerField()
    line_count = models.PositiveIntegerField(default=0)
    total_cents = models.PositiveBigIntegerField(default=0)
    # The posting that reserved every line's amount (null for a run without lines).
    reserve_transaction = models.OneToOneField(
        JournalTransaction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payout_run",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    last_executed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(
                name="payout_run_currency_format", condition=Q(currency__regex=CURRENCY_RE)
            ),
        ]

    def __str__(self):
        return f"payout run {self.pk} ({self.currency}, {self.line_count} lines)"

    @property
    def transfer_group(self) -> str:
        return f"payout-run-{self.pk}"


class PayoutLine(models.Model):
    """One payee's payout in a run: pending -> sending -> sent -> paid | failed.

    `sending` is set in its own short transaction before the Stripe call (the idempotency key,
    the line id, is stored at creation); a crash leaves the line `sending`, and a later
    execution finds the transfer (or makes it with the same key) instead of paying twice."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        PAID = "paid"
        FAILED = "failed"

    UNFINISHED = (Status.PENDING, Status.SENDING, Status.SENT)

    # Indexed by the composite indexes below (a run's lines by status, a payee's lines). The
    # references are checked set-based, once per INSERT statement, by a trigger (migration
    # 0003), not by per-row foreign-key triggers: a run inserts 100,000 lines, and per-row
    # checks lock each payee row and cost a third of the run. Lines are never re-assigned and
    # runs and lines are never deleted (triggers refuse both); a payee with a line has ledger
    # accounts, whose real foreign key keeps the payee row.
    run = models.ForeignKey(
        PayoutRun,
        on_delete=models.PROTECT,
        related_name="lines",
        db_index=False,
        db_constraint=False,
    )
    payee = models.ForeignKey(
        "contributors.Payee",
        on_delete=models.PROTECT,
        related_name="payout_lines",
        db_index=False,
        db_constraint=False,
    )
    currency = models.CharField(max_length=3)
    amount_cents = models.PositiveBigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The payee's connected account when the line was created.
    destination = models.CharField(max_length=64)
    # Stripe Idempotency-Key of the transfer: str(id), stored with the row, before any call
    # (unique because the id is: a check constraint instead of a second unique index).
    idempotency_key = models.CharField(max_length=64)
    transfer_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.TextField(blank=True)
    # The line's own postings (`payout-line:<id>`, `payout-reversal:<id>`; unique by their
    # idempotency keys). Like Entry's references, not enforced by per-row foreign-key triggers
    # and not indexed: journal transactions are append-only (never updated or deleted), these
    # columns are set only by the services from the row they just posted, and a run inserts
    # 100,000 lines with both NULL.
    payout_transaction = models.ForeignKey(
        JournalTransaction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payout_lines",
        db_constraint=False,
        db_index=False,
    )
    reversal_transaction = models.ForeignKey(
        JournalTransaction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_payout_lines",
        db_constraint=False,
        db_index=False,
    )
    created_at = models.DateTimeField()
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            # A payee is never in two unfinished lines of one currency: the third key is 0 for
            # an unfinished line and the (unique) id for a finished one. One index, not partial,
            # so it is also the index of a payee's lines (earnings, statements, the API): a run
            # inserts 100,000 lines, and each index on the table costs about as much to fill as
            # the table itself (migration 0007).
            models.UniqueConstraint(
                F("payee"),
                F("currency"),
                Case(
                    When(status__in=["pending", "sending", "sent"], then=Value(0)),
                    default=F("id"),
                    output_field=models.BigIntegerField(),
                ),
                name="uniq_payout_line_payee_open",
            ),
            models.CheckConstraint(
                name="payout_line_amount_positive", condition=Q(amount_cents__gt=0)
            ),
            models.CheckConstraint(
                name="payout_line_idempotency_key_is_id",
                condition=Q(idempotency_key=Cast("id", models.CharField())),
            ),
            models.CheckConstraint(
                name="payout_line_sent_has_transfer",
                condition=~Q(status__in=["sent", "paid"]) | ~Q(transfer_id=""),
            ),
        ]
        indexes = [
            models.Index(fields=["run", "status"], name="payout_line_run_status"),
            # (A payee's lines: uniq_payout_line_payee_open above.)
            # Reconciliation looks lines up by transfer; most lines of a new run have none.
            models.Index(
                fields=["transfer_id"],
                name="payout_line_transfer",
                condition=~Q(transfer_id=""),
            ),
        ]

    def __str__(self):
        return f"payout line {self.pk}: {self.amount_cents} {self.currency} to {self.payee_id}"


class ReconciliationWatermark(models.Model):
    """How far reconciliation's repairs have read Stripe (one row per stream, e.g. "refunds",
    "disputes", "fees"): the next run lists objects created since `created_before` minus an
    overlap, not the whole history."""

    stream = models.CharField(max_length=32, unique=True)
    # Unix time (Stripe's `created`) up to which every object was read and applied.
    created_before = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.stream} watermark {self.created_before}"


class ReconciliationReport(models.Model):
    """One reconciliation of the ledger against Stripe (see services.reconciliation): what was
    compared, and every problem found. Written once, never edited."""

    created_at = models.DateTimeField()
    ok = models.BooleanField()
    # {"charges": n, "refunds": n, "transfers": n, "matched": n}
    counts = models.JSONField(default=dict)
    # [{"problem": ..., "object": ..., "id": ..., "detail": ...}, ...]
    problems = models.JSONField(default=list)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        state = "OK" if self.ok else f"{len(self.problems)} problems"
        return f"reconciliation {self.created_at:%Y-%m-%d %H:%M} ({state})"


# Provable statements (issue 13 §4): the signed Merkle roots and their leaves.
from payouts.models.statements import StatementLeaf, StatementRoot  # noqa: E402, F401
