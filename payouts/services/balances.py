"""Balance reads. Amounts are micro-units, in each account's normal orientation (see
payouts.models): a payee's balances are what the platform owes them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Sum

from payouts.models import Entry, LedgerAccount

Kind = LedgerAccount.Kind


@dataclass(frozen=True)
class PayeeBalance:
    pending: int = 0
    available: int = 0


def account_balance(*, account: LedgerAccount) -> int:
    """One account's balance (normal orientation; index-only sum over its entries)."""
    total = Entry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"] or 0
    return LedgerAccount.normal_sign(account.kind) * total


def payee_balances(*, payee_id: int) -> dict[str, PayeeBalance]:
    """{currency: PayeeBalance(pending, available)} of one payee. Available may be negative
    (a refund after payout), to be netted against later payouts."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.currency, a.kind, coalesce(sum(e.amount), 0)
            FROM payouts_ledgeraccount a
            LEFT JOIN payouts_entry e ON e.account_id = a.id
            WHERE a.payee_id = %s
            GROUP BY a.currency, a.kind
            """,
            [payee_id],
        )
        rows = cursor.fetchall()
    balances: dict[str, dict[str, int]] = {}
    for currency, kind, total in rows:
        balances.setdefault(currency, {})[kind] = LedgerAccount.normal_sign(kind) * int(total)
    return {
        currency: PayeeBalance(
            pending=by_kind.get(Kind.PAYEE_PENDING, 0),
            available=by_kind.get(Kind.PAYEE_AVAILABLE, 0),
        )
        for currency, by_kind in sorted(balances.items())
    }


def platform_balances(*, currency: str) -> dict[str, int]:
    """{kind: balance} of the platform-wide accounts in `currency`."""
    rows = (
        Entry.objects.filter(account__payee__isnull=True, account__currency=currency)
        .values_list("account__kind")
        .annotate(total=Sum("amount"))
    )
    return {kind: LedgerAccount.normal_sign(kind) * total for kind, total in rows}


def currency_totals() -> dict[str, int]:
    """{currency: sum of every entry} (raw signed sums). Always zero for every currency: each
    transaction balances per currency."""
    rows = Entry.objects.values_list("currency").annotate(total=Sum("amount")).order_by("currency")
    return {currency: int(total) for currency, total in rows}
