"""What a posting is made of: the accounts it touches (`AccountRef`) and its entries
(`EntryLines`), column-wise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple


class AccountRef(NamedTuple):
    """What a posting needs to know about an account (also what the hash binds an entry to)."""

    id: int
    kind: str
    payee_id: int | None
    currency: str


@dataclass
class EntryLines:
    """The entries of one posting, column-wise (a sale to 100,000 payees is 100,000 lines; five
    lists of ints are far cheaper than 100,000 objects). Zero amounts are dropped."""

    account_ids: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    payee_ids: list[int | None] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)
    amounts: list[int] = field(default_factory=list)

    def add(self, account: AccountRef, amount: int) -> None:
        if amount:
            self.account_ids.append(account.id)
            self.kinds.append(account.kind)
            self.payee_ids.append(account.payee_id)
            self.currencies.append(account.currency)
            self.amounts.append(amount)

    def add_many(
        self,
        *,
        kind: str,
        currency: str,
        account_ids: Sequence[int],
        payee_ids: Sequence[int | None],
        amounts: Sequence[int],
    ) -> None:
        """Same-kind, same-currency accounts (e.g. every payee's pending account) at once."""
        if not len(account_ids) == len(payee_ids) == len(amounts):
            raise ValueError("account_ids, payee_ids and amounts differ in length")
        if all(amounts):  # the usual case, at C speed
            kept_ids, kept_payees, kept_amounts = account_ids, payee_ids, amounts
        else:
            kept = [i for i, amount in enumerate(amounts) if amount]
            kept_ids = [account_ids[i] for i in kept]
            kept_payees = [payee_ids[i] for i in kept]
            kept_amounts = [amounts[i] for i in kept]
        self.account_ids.extend(kept_ids)
        self.payee_ids.extend(kept_payees)
        self.amounts.extend(kept_amounts)
        self.kinds.extend([kind] * len(kept_amounts))
        self.currencies.extend([currency] * len(kept_amounts))

    def __len__(self) -> int:
        return len(self.amounts)

    def totals(self) -> dict[str, int]:
        currencies = set(self.currencies)
        if len(currencies) == 1:
            return {currencies.pop(): sum(self.amounts)}
        totals: dict[str, int] = {}
        for currency, amount in zip(self.currencies, self.amounts, strict=True):
            totals[currency] = totals.get(currency, 0) + amount
        return totals
