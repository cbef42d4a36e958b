"""Reads of the payouts app: a payee's earnings and payout lines, and the audit trail of a
payout line back to the sales it came from."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from contributors.models import Payee
from marketplace.models import Membership, Organization, User
from payouts.models import Entry, JournalTransaction, LedgerAccount, PayoutLine
from payouts.services.balances import payee_balances

logger = logging.getLogger(__name__)
LEDGER_CACHE_SECONDS = 3600


def ledger_cached(name: str, *parts, compute):
    """A read of ledger aggregates, cached under the ledger's head: entries are append-only and
    every posting moves the head, so a cached value is exact for as long as its key is asked
    for. The head is read first, so a value computed while a posting commits may be newer than
    its key, never older. The cache being down only costs the computation."""
    head = (
        JournalTransaction.objects.order_by("-sequence").values_list("sequence", flat=True).first()
        or 0
    )
    key = ":".join(["ledger", name, str(head), *map(str, parts)])
    try:
        hit = cache.get(key)
    except Exception:  # noqa: BLE001 - cache down: compute, and say so in the log
        logger.warning("ledger cache unavailable", exc_info=True)
        return compute()
    if hit is not None:
        return hit
    value = compute()
    try:
        cache.set(key, value, timeout=LEDGER_CACHE_SECONDS)
    except Exception:  # noqa: BLE001
        logger.warning("ledger cache unavailable", exc_info=True)
    return value


Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind


@dataclass
class CurrencyEarnings:
    currency: str
    pending: int = 0  # micro-units, inside the refund window
    available: int = 0  # micro-units, payable (negative: owed back after a refund)
    in_payout: int = 0  # cents in unfinished payout lines (pending / sending / sent)
    paid: int = 0  # cents in paid payout lines


@dataclass
class DatasetEarnings:
    dataset_id: str
    name: str
    currency: str
    earned: int = 0  # micro-units: sale shares minus refunds
    pending: int = 0  # micro-units of it still inside the refund window


@dataclass
class PayeeEarnings:
    payee: Payee
    currencies: list[CurrencyEarnings] = field(default_factory=list)
    datasets: list[DatasetEarnings] = field(default_factory=list)


def payees_of_user(*, user: User, organization: Organization | None) -> dict[str, Payee | None]:
    """The payees whose money the caller may see: the organisation's (owners of the key's
    organisation only) and the contributor profile the user claimed. Never created here."""
    org_payee = None
    if (
        organization is not None
        and Membership.objects.filter(
            organization=organization, user=user, role=Membership.Role.OWNER
        ).exists()
    ):
        org_payee = Payee.objects.filter(organization=organization).first()
    contributor_payee = (
        Payee.objects.filter(contributor__user=user).select_related("contributor").first()
    )
    return {"organization": org_payee, "contributor": contributor_payee}


_BY_DATASET = """
SELECT a.currency, d.public_id, d.name, a.kind, sum(e.amount)
FROM payouts_ledgeraccount a
JOIN payouts_entry e ON e.account_id = a.id
JOIN payouts_journaltransaction t ON t.id = e.transaction_id
JOIN marketplace_datasetversion v ON v.id = t.dataset_version_id
JOIN marketplace_dataset d ON d.id = v.dataset_id
WHERE a.payee_id = %s
  AND t.kind IN ('sale', 'refund', 'hold_release', 'dispute_hold', 'dispute_release',
                 'dispute_loss')
GROUP BY a.currency, d.public_id, d.name, a.kind
ORDER BY a.currency, d.public_id
"""


def payee_earnings(*, payee: Payee) -> PayeeEarnings:
    """Pending / available balances per currency from the ledger, cents in payout and paid from
    the payout lines, and per dataset what the payee earned (sale shares minus refunds) and how
    much of it is still pending. Payouts are not attributed to datasets: available money is
    fungible across a payee's datasets. Three queries, whatever the size of the history (the two ledger reads cached under the
    ledger's head)."""

    def from_ledger():
        with connection.cursor() as cursor:
            cursor.execute(_BY_DATASET, [payee.pk])
            return payee_balances(payee_id=payee.pk), cursor.fetchall()

    balances, rows = ledger_cached("payee-earnings", payee.pk, compute=from_ledger)
    currencies: dict[str, CurrencyEarnings] = {}
    for currency, balance in balances.items():
        currencies[currency] = CurrencyEarnings(currency, balance.pending, balance.available)
    lines = (
        PayoutLine.objects.filter(payee=payee)
        .values_list("currency", "status")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    )
    for currency, status, total in lines:
        row = currencies.setdefault(currency, CurrencyEarnings(currency))
        if status == PayoutLine.Status.PAID:
            row.paid += total
        elif status in PayoutLine.UNFINISHED:
            row.in_payout += total

    datasets: dict[tuple[str, str], DatasetEarnings] = {}

    for currency, public_id, name, kind, total in rows:
        row = datasets.setdefault((currency, public_id), DatasetEarnings(public_id, name, currency))
        balance = LedgerAccount.normal_sign(kind) * int(total)
        if kind == Kind.PAYEE_PENDING:
            row.pending += balance
        # Hold releases and dispute holds/releases move money between the payee's own
        # accounts: they cancel out here; a lost dispute is taken back like a refund.
        row.earned += balance
    return PayeeEarnings(
        payee,
        [currencies[c] for c in sorted(currencies)],
        sorted(datasets.values(), key=lambda d: (d.currency, d.name, d.dataset_id)),
    )


def payout_lines_of_payees(*, payee_ids: list[int]) -> QuerySet[PayoutLine]:
    """The payees' payout lines, newest first (one query with the payee kind)."""
    return (
        PayoutLine.objects.filter(payee_id__in=payee_ids)
        .select_related("payee")
        .order_by("-created_at", "-pk")
    )


# --- audit trail ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaleSource:
    id: int
    sequence: int
    idempotency_key: str  # `sale:<order ref>`
    order_ref: str
    external_reference: str
    dataset_version_id: int | None
    share: int  # micro-units credited to the payee by the sale (net of its refunds)


def payout_line_sources(*, line: PayoutLine, limit: int = 500) -> list[SaleSource]:
    """The sales whose shares made up the payee's available balance that this line paid: the
    sales released into AVAILABLE after the payee's previous reservation and up to this line's
    (available money is fungible, so this is the window of releases the line settled, oldest
    first), with each sale's share for this payee net of its refunds."""
    run = line.run
    if run.reserve_transaction_id is None:
        return []
    upto = run.reserve_transaction.sequence
    previous = (
        PayoutLine.objects.filter(
            payee_id=line.payee_id,
            currency=line.currency,
            pk__lt=line.pk,
            run__reserve_transaction__isnull=False,
        )
        .exclude(status=PayoutLine.Status.FAILED)
        .order_by("-pk")
        .values_list("run__reserve_transaction__sequence", flat=True)
        .first()
    )
    after = previous or 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.id, s.sequence, s.idempotency_key, s.external_reference, s.dataset_version_id,
                   -(SELECT coalesce(sum(e2.amount), 0)
                     FROM payouts_entry e2
                     JOIN payouts_ledgeraccount a2 ON a2.id = e2.account_id
                     JOIN payouts_journaltransaction t2 ON t2.id = e2.transaction_id
                     WHERE a2.payee_id = %(payee)s
                       AND (t2.id = s.id OR (t2.related_transaction_id = s.id
                                             AND t2.kind IN ('refund', 'dispute_loss'))))
            FROM payouts_journaltransaction r
            JOIN payouts_entry e ON e.transaction_id = r.id AND e.account_id = %(account)s
            JOIN payouts_journaltransaction s ON s.id = r.related_transaction_id
            WHERE r.kind = 'hold_release' AND r.sequence > %(after)s AND r.sequence < %(upto)s
            ORDER BY s.sequence
            LIMIT %(limit)s
            """,
            {
                "payee": line.payee_id,
                "account": _available_account_id(line),
                "after": after,
                "upto": upto,
                "limit": limit,
            },
        )
        rows = cursor.fetchall()
    return [
        SaleSource(pk, seq, key, key.removeprefix("sale:"), ref, version, int(share))
        for pk, seq, key, ref, version, share in rows
    ]


def _available_account_id(line: PayoutLine) -> int | None:
    return (
        LedgerAccount.objects.filter(
            payee_id=line.payee_id, kind=Kind.PAYEE_AVAILABLE, currency=line.currency
        )
        .values_list("pk", flat=True)
        .first()
    )


def payee_statement(
    *,
    payee: Payee,
    currency: str,
    limit: int | None = 1000,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict]:
    """The payee's AVAILABLE account as a statement, oldest first: each transaction that moved
    it (release, refund, payout reservation, reversal) with its amount and the running balance,
    in micro-units (credit-normal: positive = owed to the payee). Window-function SQL. With
    `start` / `end` (end excluded) only that period's rows, the running balance still counted
    from the account's first entry; `limit=None` returns every row."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT * FROM (
                SELECT t.sequence, t.created_at, t.kind, t.idempotency_key,
                       t.external_reference, -e.amount AS amount,
                       (-sum(e.amount) OVER (ORDER BY t.sequence))::bigint AS balance
                FROM payouts_entry e
                JOIN payouts_ledgeraccount a ON a.id = e.account_id
                JOIN payouts_journaltransaction t ON t.id = e.transaction_id
                WHERE a.payee_id = %(payee)s AND a.kind = %(kind)s AND a.currency = %(currency)s
            ) statement
            WHERE created_at >= coalesce(%(start)s::timestamptz, '-infinity')
              AND created_at < coalesce(%(end)s::timestamptz, 'infinity')
            ORDER BY sequence
            LIMIT %(limit)s
            """,
            {
                "payee": payee.pk,
                "kind": Kind.PAYEE_AVAILABLE,
                "currency": currency,
                "start": start,
                "end": end,
                "limit": limit,
            },
        )
        columns = [c.name for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


# --- earnings by month ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthEarnings:
    month: date  # the month's first day
    earned: int  # micro-units: sale shares minus refunds posted that month (may be negative)


@dataclass
class CurrencyMonths:
    currency: str
    months: list[MonthEarnings]

    @property
    def total(self) -> int:
        return sum(m.earned for m in self.months)


def month_start(moment: datetime) -> date:
    """The first day of `moment`'s month in the current time zone (UTC)."""
    return timezone.localtime(moment).date().replace(day=1)


def months_back(first: date, count: int) -> date:
    """The first day of the month `count` months before `first`'s."""
    index = first.year * 12 + first.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def payee_earnings_by_month(
    *, payee: Payee, months: int = 12, now: datetime | None = None
) -> list[CurrencyMonths]:
    """What the payee earned in each of the last `months` calendar months (this one included),
    per currency: the shares of sales minus refunds, in micro-units, by the month they were
    posted in (hold releases move money between the payee's own accounts and cancel out;
    payouts are not earnings). Every month of the window is listed, with 0 when nothing
    happened; a currency appears when it moved in the window. Summed over every month of a
    payee's history it equals the `earned` of `payee_earnings` per currency. One query."""
    last = month_start(now or timezone.now())
    first = months_back(last, months - 1)
    window_start = timezone.make_aware(datetime(first.year, first.month, 1))
    rows = ledger_cached(
        "payee-months",
        payee.pk,
        window_start.isoformat(),
        compute=lambda: list(
            Entry.objects.filter(
                account__payee=payee,
                transaction__kind__in=[TxKind.SALE, TxKind.REFUND, TxKind.DISPUTE_LOSS],
                transaction__created_at__gte=window_start,
            )
            .annotate(month=TruncMonth("transaction__created_at"))
            .values_list("currency", "month")
            .annotate(total=Sum("amount"))
            .order_by()
        ),
    )
    by_currency: dict[str, dict[date, int]] = {}
    for currency, month, total in rows:
        # Payee accounts are credit-normal: a credit (negative amount) is money earned.
        by_currency.setdefault(currency, {})[timezone.localtime(month).date()] = -int(total)
    window = [months_back(last, n) for n in range(months - 1, -1, -1)]
    return [
        CurrencyMonths(currency, [MonthEarnings(m, totals.get(m, 0)) for m in window])
        for currency, totals in sorted(by_currency.items())
    ]
