"""Ledger accounts, created on first use (race-safe: INSERT ... ON CONFLICT). Create the
accounts a posting needs before taking the chain lock (see the lock order in
`payouts.services.journal`)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from payouts.models import LedgerAccount
from payouts.services.journal.entries import AccountRef


def platform_account(*, kind: str, currency: str) -> AccountRef:
    """The platform-wide account of `kind` in `currency`, created on first use (race-safe)."""
    if kind in LedgerAccount.PAYEE_KINDS:
        raise ValueError(f"{kind} is a payee account kind")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO payouts_ledgeraccount (kind, payee_id, currency, created_at)
            VALUES (%s, NULL, %s, now())
            ON CONFLICT (kind, currency) WHERE payee_id IS NULL DO NOTHING
            """,
            [kind, currency],
        )
        cursor.execute(
            "SELECT id FROM payouts_ledgeraccount"
            " WHERE kind = %s AND currency = %s AND payee_id IS NULL",
            [kind, currency],
        )
        (account_id,) = cursor.fetchone()
    return AccountRef(account_id, kind, None, currency)


def payee_accounts_ensure(*, kind: str, currency: str, payee_ids: Sequence[int]) -> dict[int, int]:
    """{payee_id: account_id} of the payees' accounts of `kind` in `currency`, creating missing
    ones (set-based; inserted in payee order so concurrent creators cannot deadlock). Call it
    before `ledger_chain_lock()`."""
    if kind not in LedgerAccount.PAYEE_KINDS:
        raise ValueError(f"{kind} is not a payee account kind")
    ids = list(payee_ids)
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO payouts_ledgeraccount (kind, payee_id, currency, created_at)
            SELECT %(kind)s, p.payee_id, %(currency)s, now()
            FROM unnest(%(ids)s::bigint[]) AS p(payee_id)
            WHERE NOT EXISTS (
                SELECT 1 FROM payouts_ledgeraccount a
                WHERE a.payee_id = p.payee_id AND a.kind = %(kind)s AND a.currency = %(currency)s
            )
            ORDER BY p.payee_id
            ON CONFLICT (payee_id, kind, currency) WHERE payee_id IS NOT NULL DO NOTHING
            """,
            {"kind": kind, "currency": currency, "ids": ids},
        )
        cursor.execute(
            """
            SELECT payee_id, id FROM payouts_ledgeraccount
            WHERE kind = %s AND currency = %s AND payee_id = ANY(%s::bigint[])
            """,
            [kind, currency, ids],
        )
        return dict(cursor.fetchall())


def payee_account(*, payee_id: int, kind: str, currency: str) -> AccountRef:
    """One payee's account (created on first use)."""
    account_id = payee_accounts_ensure(kind=kind, currency=currency, payee_ids=[payee_id])[payee_id]
    return AccountRef(account_id, kind, payee_id, currency)
