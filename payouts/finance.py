"""Reads of the admin's finance overview: the trial balance, what must be zero, the money owed
to payees, the next payout runs, recent refunds, the latest reconciliation and the ledger's
verification. Amounts are micro-units unless the name says cents.

Ledger aggregates are cached under the ledger's head (`payouts.selectors.ledger_cached`): the
page stays fast on a large ledger and is exact, since every posting moves the head.

Apps above this one (licensing: disputes, staff refunds) add their own part of the page with
`finance_section_register` from a module Django imports at start (their admin), so this module
never imports them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from payouts.models import (
    MICRO_PER_CENT,
    JournalTransaction,
    LedgerAccount,
    PayoutLine,
    PayoutRun,
    ReconciliationReport,
)
from payouts.selectors import ledger_cached
from payouts.services.runs import payout_thresholds
from payouts.services.verify import LedgerVerification, ledger_verify

Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind
REFUNDS_SHOWN = 50
PROBLEMS_SHOWN = 50
RECENT_DAYS = 30


# --- trial balance --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialBalanceRow:
    kind: str
    debits: int  # sum of the positive entries
    credits: int  # sum of the negative entries, as a positive number
    balance: int  # debits - credits (raw: positive = debit balance)

    @property
    def normal_balance(self) -> int:
        """The balance in the account kind's normal orientation (what the kind holds)."""
        return LedgerAccount.normal_sign(self.kind) * self.balance


@dataclass(frozen=True)
class CurrencyTrialBalance:
    currency: str
    rows: list[TrialBalanceRow]

    @property
    def debits(self) -> int:
        return sum(r.debits for r in self.rows)

    @property
    def credits(self) -> int:
        return sum(r.credits for r in self.rows)

    @property
    def balance(self) -> int:
        return self.debits - self.credits

    @property
    def balanced(self) -> bool:
        return self.balance == 0

    def of(self, kind: str) -> int:
        """The normal balance of every account of `kind` together (0 when none moved)."""
        return next((r.normal_balance for r in self.rows if r.kind == kind), 0)


_TRIAL_BALANCE = """
SELECT e.currency, a.kind,
       coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0),
       coalesce(-sum(e.amount) FILTER (WHERE e.amount < 0), 0)
FROM payouts_entry e JOIN payouts_ledgeraccount a ON a.id = e.account_id
GROUP BY e.currency, a.kind
ORDER BY e.currency, a.kind
"""


def trial_balance() -> list[CurrencyTrialBalance]:
    """Debits, credits and balance per account kind (payee accounts together) and currency. Each
    currency's balances sum to zero: every transaction balances per currency."""

    def compute():
        with connection.cursor() as cursor:
            cursor.execute(_TRIAL_BALANCE)
            return cursor.fetchall()

    by_currency: dict[str, list[TrialBalanceRow]] = {}
    for currency, kind, debits, credits in ledger_cached("trial-balance", compute=compute):
        debits, credits = int(debits), int(credits)
        by_currency.setdefault(currency, []).append(
            TrialBalanceRow(kind, debits, credits, debits - credits)
        )
    return [CurrencyTrialBalance(c, rows) for c, rows in sorted(by_currency.items())]


# --- what must be zero ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClearingCheck:
    account: str
    currency: str
    balance: int  # the account's normal balance
    expected: int  # what it should hold
    explanation: str

    @property
    def difference(self) -> int:
        return self.balance - self.expected

    @property
    def ok(self) -> bool:
        return self.difference == 0


def clearing_checks(balances: list[CurrencyTrialBalance]) -> list[ClearingCheck]:
    """Per currency, PAYOUT_IN_TRANSIT minus the payout lines not transferred yet (pending or
    sending): zero unless a run's money went missing or was paid twice. (PAYMENT_CLEARING holds
    the money at Stripe; its difference with what Stripe kept is the reconciliation's
    `clearing_not_zero` problem, shown with the report.)"""
    untransferred = dict(
        PayoutLine.objects.filter(
            # Unfinished lines are only in open runs: the filter reads only those runs' lines.
            run__status=PayoutRun.Status.OPEN,
            status__in=[PayoutLine.Status.PENDING, PayoutLine.Status.SENDING],
        )
        .values_list("currency")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    )
    by_currency = {b.currency: b for b in balances}
    checks = []
    for currency in sorted(set(by_currency) | set(untransferred)):
        in_transit = (
            by_currency[currency].of(Kind.PAYOUT_IN_TRANSIT) if currency in by_currency else 0
        )
        checks.append(
            ClearingCheck(
                Kind.PAYOUT_IN_TRANSIT,
                currency,
                in_transit,
                int(untransferred.get(currency, 0)) * MICRO_PER_CENT,
                "in transit minus payout lines not transferred yet",
            )
        )
    return checks


# --- money owed and the next payout runs ----------------------------------------------------------


@dataclass(frozen=True)
class OwedTotals:
    currency: str
    pending: int  # payees' shares inside the refund window
    available: int  # payable (net of negative balances after refunds)
    in_transit: int  # reserved by payout runs, transfer not made yet


def owed_totals(balances: list[CurrencyTrialBalance]) -> list[OwedTotals]:
    return [
        OwedTotals(
            b.currency,
            b.of(Kind.PAYEE_PENDING),
            b.of(Kind.PAYEE_AVAILABLE),
            b.of(Kind.PAYOUT_IN_TRANSIT),
        )
        for b in balances
    ]


@dataclass(frozen=True)
class PayoutForecast:
    currency: str
    threshold_cents: int
    payees: int
    amount_cents: int


# The rule of payouts.services.runs.create's _CANDIDATES, read only: payees with payouts
# enabled, an available balance of at least the threshold and no unfinished line; whole cents.
_FORECAST = """
SELECT count(*), coalesce(sum(div(b.available, %(micro)s)), 0)::bigint
FROM (
    SELECT a.payee_id, -sum(e.amount) AS available
    FROM payouts_ledgeraccount a
    JOIN payouts_entry e ON e.account_id = a.id
    WHERE a.kind = %(kind)s AND a.currency = %(currency)s AND a.payee_id IS NOT NULL
    GROUP BY a.payee_id
) b
JOIN contributors_payoutaccount pa ON pa.payee_id = b.payee_id AND pa.payouts_enabled
WHERE b.available >= %(threshold)s
  AND NOT EXISTS (  -- an unfinished line (only open runs have them), as payout_run_create
      SELECT 1 FROM payouts_payoutrun r
      JOIN payouts_payoutline l ON l.run_id = r.id AND l.status IN ('pending', 'sending', 'sent')
      WHERE r.status = 'open' AND r.currency = %(currency)s AND l.payee_id = b.payee_id
  )
"""


def payout_forecast() -> list[PayoutForecast]:
    """What the next payout run of each configured currency would pay if created now: how many
    payees and how many cents (the same rule as `payout_run_create`)."""
    forecasts = []
    with connection.cursor() as cursor:
        for currency, threshold in sorted(payout_thresholds().items()):
            cursor.execute(
                _FORECAST,
                {
                    "micro": MICRO_PER_CENT,
                    "kind": Kind.PAYEE_AVAILABLE,
                    "currency": currency,
                    "threshold": int(threshold) * MICRO_PER_CENT,
                },
            )
            payees, cents = cursor.fetchone()
            forecasts.append(PayoutForecast(currency, int(threshold), int(payees), int(cents)))
    return forecasts


# --- refunds, reconciliation, verification --------------------------------------------------------


@dataclass(frozen=True)
class RecentRefund:
    sequence: int
    created_at: datetime
    idempotency_key: str
    external_reference: str
    currency: str
    amount: int  # what left PAYMENT_CLEARING (micro-units, positive)


def refunds_recent(*, since: datetime, limit: int = REFUNDS_SHOWN) -> list[RecentRefund]:
    """Refunds posted to the ledger since `since`, newest first, with the amount returned."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.sequence, t.created_at, t.idempotency_key, t.external_reference, e.currency,
                   -sum(e.amount)
            FROM payouts_journaltransaction t
            JOIN payouts_entry e ON e.transaction_id = t.id
            JOIN payouts_ledgeraccount a ON a.id = e.account_id AND a.kind = %s
            WHERE t.kind = %s AND t.created_at >= %s
            GROUP BY t.id, e.currency
            ORDER BY t.sequence DESC
            LIMIT %s
            """,
            [Kind.PAYMENT_CLEARING, TxKind.REFUND, since, limit],
        )
        return [RecentRefund(*row[:5], int(row[5])) for row in cursor.fetchall()]


def ledger_verification_cached() -> LedgerVerification:
    """`ledger_verify()` under the ledger's head: recomputed only after a new posting."""
    return ledger_cached("verify", compute=ledger_verify)


# --- sections of the higher apps ------------------------------------------------------------------


@dataclass(frozen=True)
class FinanceSection:
    title: str
    template: str  # rendered with the context below, inside the overview page
    context: Callable[..., dict]  # (now=) -> the template's context


_SECTIONS: dict[str, FinanceSection] = {}


def finance_section_register(*, title: str, template: str, context: Callable[..., dict]) -> None:
    """Add a part to the overview (idempotent per template)."""
    _SECTIONS[template] = FinanceSection(title, template, context)


@dataclass
class FinanceOverview:
    now: datetime
    trial_balance: list[CurrencyTrialBalance]
    clearing: list[ClearingCheck]
    owed: list[OwedTotals]
    forecast: list[PayoutForecast]
    refunds: list[RecentRefund]
    refunds_since: datetime
    report: ReconciliationReport | None
    verification: LedgerVerification
    sections: list[tuple[FinanceSection, dict]] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return all(b.balanced for b in self.trial_balance)

    @property
    def clearing_ok(self) -> bool:
        return all(c.ok for c in self.clearing)

    @property
    def report_problems(self) -> list[dict]:
        """The first PROBLEMS_SHOWN problems, most pressing first: our own ledger's entries
        with nothing at Stripe, then clearing differences, then Stripe objects we lack (the
        page links to the whole report for the rest)."""
        if not self.report:
            return []

        def rank(problem: dict) -> int:
            if str(problem.get("object", "")).startswith("ledger_"):
                return 0
            return 1 if problem.get("problem") == "clearing_not_zero" else 2

        return sorted(self.report.problems, key=rank)[:PROBLEMS_SHOWN]

    @property
    def report_problems_hidden(self) -> int:
        return max(0, len(self.report.problems) - PROBLEMS_SHOWN) if self.report else 0


def finance_overview(*, now: datetime | None = None) -> FinanceOverview:
    now = now or timezone.now()
    balances = trial_balance()
    since = now - timedelta(days=RECENT_DAYS)
    return FinanceOverview(
        now=now,
        trial_balance=balances,
        clearing=clearing_checks(balances),
        owed=owed_totals(balances),
        forecast=payout_forecast(),
        refunds=refunds_recent(since=since),
        refunds_since=since,
        report=ReconciliationReport.objects.order_by("-created_at", "-pk").first(),
        verification=ledger_verification_cached(),
        sections=[(s, s.context(now=now)) for s in _SECTIONS.values()],
    )
