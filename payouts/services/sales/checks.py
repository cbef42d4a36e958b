"""Checks the sale, refund and fee postings share: their arguments, and a replayed idempotency
key against what it was first posted with."""

from __future__ import annotations

import re

from marketplace.services.errors import Conflict, Invalid
from payouts.models import Entry, JournalTransaction

_CURRENCY = re.compile(r"^[a-z]{3}$")


def _require_int(name: str, value, *, minimum: int | None = None, nonzero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{name} must be an integer number of cents (got {value!r}).")
    if minimum is not None and value < minimum:
        raise Invalid(f"{name} must be at least {minimum} (got {value}).")
    if nonzero and value == 0:
        raise Invalid(f"{name} must not be zero.")
    return value


def _require_ref(name: str, value) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise Invalid(f"{name} must be a non-empty reference of at most 200 characters.")
    return value


def _require_currency(value) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise Invalid(f'currency must be a lowercase ISO code like "usd" (got {value!r}).')
    return value


def _platform_amounts(journal: JournalTransaction) -> dict[str, tuple[str, int]]:
    """{account kind: (currency, amount)} of a transaction's platform-account entries."""
    return {
        kind: (currency, amount)
        for kind, currency, amount in Entry.objects.filter(
            transaction=journal, account__payee__isnull=True
        ).values_list("account__kind", "currency", "amount")
    }


def _replay_mismatch(key: str, what: str) -> Conflict:
    return Conflict(
        f"Idempotency key {key} was already posted with a different {what}.",
        code="idempotency_key_reused",
    )
