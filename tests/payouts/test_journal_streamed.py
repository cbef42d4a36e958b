"""journal_post_payee_query, the posting payout runs stream: the same chain hash as
journal_post would store for the same entries (hashed by PostgreSQL), wherever the balancing
account sits among the payee accounts."""

import pytest
from django.db import transaction

from payouts.models import Entry, JournalTransaction, LedgerAccount
from payouts.services import ledger_verify, payee_account, platform_account
from payouts.services.journal.streamed import journal_post_payee_query
from tests.payouts.conftest import payee_of, set_shares

pytestmark = pytest.mark.django_db
Kind = LedgerAccount.Kind
EMAILS = [f"p{i}@example.com" for i in range(5)]
ROWS_SQL = """
SELECT * FROM unnest(%(ids)s::bigint[], %(payees)s::bigint[], %(amounts)s::bigint[])
    AS r(account_id, payee_id, amount)
"""


def _accounts(version, seller, in_transit_at: int):
    """Five payees' AVAILABLE accounts with the in-transit account created after the first
    `in_transit_at` of them (so its id falls at that place in account order)."""
    table = set_shares(version, seller.owner, [(email, 1) for email in EMAILS], basis="weight")
    payees = [payee_of(table, email).pk for email in EMAILS]
    refs = []
    with transaction.atomic():
        for i, payee_id in enumerate(payees):
            if i == in_transit_at:
                in_transit = platform_account(kind=Kind.PAYOUT_IN_TRANSIT, currency="usd")
            refs.append(payee_account(payee_id=payee_id, kind=Kind.PAYEE_AVAILABLE, currency="usd"))
        if in_transit_at == len(payees):
            in_transit = platform_account(kind=Kind.PAYOUT_IN_TRANSIT, currency="usd")
    return refs, in_transit


@pytest.mark.parametrize("in_transit_at", [0, 2, 5], ids=["first", "middle", "last"])
def test_streamed_posting_hashes_like_journal_post(version, seller, in_transit_at):
    refs, in_transit = _accounts(version, seller, in_transit_at)
    amounts = [10_000 * (i + 1) + i for i in range(len(refs))]
    params = {
        "ids": [r.id for r in reversed(refs)],  # any order: the posting sorts
        "payees": [r.payee_id for r in reversed(refs)],
        "amounts": list(reversed(amounts)),
    }
    journal, created = journal_post_payee_query(
        idempotency_key="test:streamed",
        kind="payout_reserve",
        rows_sql=ROWS_SQL,
        params=params,
        payee_kind=Kind.PAYEE_AVAILABLE,
        balancing=in_transit,
    )
    assert created
    assert dict(journal.entries.values_list("account_id", "amount")) == {
        **{r.id: amount for r, amount in zip(refs, amounts, strict=True)},
        in_transit.id: -sum(amounts),
    }
    verification = ledger_verify()  # recomputes the hash the way journal_post does
    assert verification.ok and verification.transactions == 1, verification

    again, created = journal_post_payee_query(
        idempotency_key="test:streamed",
        kind="payout_reserve",
        rows_sql=ROWS_SQL,
        params=params,
        payee_kind=Kind.PAYEE_AVAILABLE,
        balancing=in_transit,
    )
    assert (again.pk, created) == (journal.pk, False)
    assert Entry.objects.count() == len(refs) + 1


@pytest.mark.parametrize(
    "bad", ["zero amount", "balancing account among the rows", "no payee", "no rows", "sum zero"]
)
def test_bad_rows_are_refused_before_writing(version, seller, bad):
    refs, in_transit = _accounts(version, seller, 5)
    ids = [r.id for r in refs]
    payees = [r.payee_id for r in refs]
    amounts = [1] * len(refs)
    if bad == "zero amount":
        amounts[3] = 0
    elif bad == "balancing account among the rows":
        ids[3], payees[3] = in_transit.id, 0
    elif bad == "no payee":
        payees[3] = None
    elif bad == "no rows":
        ids, payees, amounts = [], [], []
    else:
        amounts[3] = -4
    with pytest.raises(ValueError):
        journal_post_payee_query(
            idempotency_key="test:bad",
            kind="payout_reserve",
            rows_sql=ROWS_SQL,
            params={"ids": ids, "payees": payees, "amounts": amounts},
            payee_kind=Kind.PAYEE_AVAILABLE,
            balancing=in_transit,
        )
    assert not JournalTransaction.objects.exists()
