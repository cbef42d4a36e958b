"""The faster reservation of a payout run: the SQL digest sorts its rows once and checks that
its aggregates saw them in account order (else NULL, and the poster hashes again with each
aggregate sorting its own input); the streamed posting takes its entries' ids as one block of
the sequence, numbered by the rows' own `n` when they carry one."""

import random

import pytest
from django.db import IntegrityError, connection

from payouts.models import Entry, JournalTransaction, LedgerAccount
from payouts.services import ledger_verify
from payouts.services.journal.chain import chain_hash, hash_entries
from payouts.services.journal.entries import AccountRef
from payouts.services.journal.sql_hash import (
    _digest_sql,
    entries_digest_params,
    entries_digest_sql,
)
from payouts.services.journal.streamed import journal_post_payee_query
from tests.payouts.test_journal_streamed import _accounts

pytestmark = pytest.mark.django_db
Kind = LedgerAccount.Kind
ROWS_SQL = """
SELECT * FROM unnest(%(ids)s::bigint[], %(payees)s::bigint[], %(amounts)s::bigint[])
    AS r(account_id, payee_id, amount)
"""
NUMBERED_SQL = """
SELECT * FROM unnest(%(ns)s::bigint[], %(ids)s::bigint[], %(payees)s::bigint[],
                     %(amounts)s::bigint[])
    AS r(n, account_id, payee_id, amount)
"""
PREV = "cd" * 32
HEADER = '{"created_at":"2026-12-06T01:00:00.000001Z","kind":"payout_reserve","sequence":9,"v":1}'


def _params(rows, balancing):
    return {
        "ids": [r[0] for r in rows],
        "payees": [r[1] for r in rows],
        "amounts": [r[2] for r in rows],
        **entries_digest_params(PREV, HEADER, "payee_available", balancing),
    }


def _python_digest(rows, balancing: AccountRef) -> str:
    total = sum(amount for _id, _payee, amount in rows)
    entries = sorted(
        [(i, "payee_available", p, balancing.currency, a) for i, p, a in rows]
        + [(balancing.id, balancing.kind, None, balancing.currency, -total)]
    )
    ids, kinds, payees, currencies, amounts = (list(c) for c in zip(*entries, strict=True))
    return chain_hash(PREV, HEADER, hash_entries(ids, kinds, payees, currencies, amounts))


def _run(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _shuffled_rows(seed: int, n: int):
    rng = random.Random(seed)
    ids = sorted(rng.sample(range(2, 2**62), n))
    rows = [
        (i, rng.randrange(1, 2**62), rng.choice([1, -1]) * rng.randrange(1, 2**40)) for i in ids
    ]
    rng.shuffle(rows)
    return ids, rows


@pytest.mark.parametrize("ordered_aggregates", [False, True])
@pytest.mark.parametrize("at", ["first", "middle", "last"])
@pytest.mark.parametrize("seed", range(3))
def test_both_forms_hash_like_journal_post(ordered_aggregates, at, seed):
    ids, rows = _shuffled_rows(seed, 400)
    balancing_id = {"first": 1, "middle": ids[199] + 1, "last": 2**63 - 1}[at]
    if balancing_id in ids:
        pytest.skip("drawn the balancing id")
    balancing = AccountRef(balancing_id, "payout_in_transit", None, "eur")
    sql = entries_digest_sql(ROWS_SQL, ordered_aggregates=ordered_aggregates)
    n, total, bad, digest = _run(sql, _params(rows, balancing))
    assert (n, total, bad) == (400, sum(r[2] for r in rows), False)
    assert digest == _python_digest(rows, balancing)


def test_aggregates_that_see_the_rows_out_of_order_give_no_digest():
    """The check itself: the same SQL without the sort, fed shuffled rows, refuses to hash;
    fed rows already in account order, it hashes as journal_post does."""
    ids, rows = _shuffled_rows(7, 300)
    balancing = AccountRef(ids[100] + 1, "payout_in_transit", None, "usd")
    unsorted = _digest_sql(ROWS_SQL, sort_stream=False, ordered_aggregates=False)
    assert _run(unsorted, _params(rows, balancing))[3] is None
    in_order = sorted(rows)
    assert _run(unsorted, _params(in_order, balancing))[3] == _python_digest(rows, balancing)


def test_no_rows_hash_nothing():
    balancing = AccountRef(5, "payout_in_transit", None, "usd")
    assert _run(entries_digest_sql(ROWS_SQL), _params([], balancing))[:3] == (0, 0, False)


def _entry_sequence_last() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_value FROM"
            " pg_sequences WHERE schemaname || '.' || sequencename"
            " = pg_get_serial_sequence('payouts_entry', 'id')"
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize("numbered", [False, True])
def test_entries_take_one_block_of_ids(version, seller, numbered):
    refs, in_transit = _accounts(version, seller, 2)
    amounts = [10_000 * (i + 1) for i in range(len(refs))]
    params = {
        "ns": list(range(1, len(refs) + 1)),
        "ids": [r.id for r in refs],
        "payees": [r.payee_id for r in refs],
        "amounts": amounts,
    }
    journal, created = journal_post_payee_query(
        idempotency_key="test:block",
        kind="payout_reserve",
        rows_sql=NUMBERED_SQL if numbered else ROWS_SQL,
        params=params,
        payee_kind=Kind.PAYEE_AVAILABLE,
        balancing=in_transit,
        rows_numbered=numbered,
    )
    assert created
    ids = dict(journal.entries.values_list("account_id", "id"))
    first = min(ids.values())
    # The payee entries in row order, the balancing entry last; the sequence past the block.
    assert [ids[r.id] for r in refs] == list(range(first, first + len(refs)))
    assert ids[in_transit.id] == first + len(refs)
    assert _entry_sequence_last() == first + len(refs)
    verification = ledger_verify()
    assert verification.ok, verification


@pytest.mark.parametrize("numbering", ["from 2", "repeated", "from 0"])
def test_numbering_that_is_not_1_to_count_writes_nothing(version, seller, numbering):
    refs, in_transit = _accounts(version, seller, 5)
    ns = {"from 2": [2, 3, 4, 5, 6], "repeated": [1, 1, 2, 3, 4], "from 0": [0, 1, 2, 3, 4]}
    params = {
        "ns": ns[numbering],
        "ids": [r.id for r in refs],
        "payees": [r.payee_id for r in refs],
        "amounts": [7] * len(refs),
    }
    with pytest.raises((RuntimeError, IntegrityError)):
        journal_post_payee_query(
            idempotency_key="test:numbering",
            kind="payout_reserve",
            rows_sql=NUMBERED_SQL,
            params=params,
            payee_kind=Kind.PAYEE_AVAILABLE,
            balancing=in_transit,
            rows_numbered=True,
        )
    assert not JournalTransaction.objects.exists()
    assert not Entry.objects.exists()
