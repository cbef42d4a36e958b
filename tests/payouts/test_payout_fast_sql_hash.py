"""sql_hash: the chain hash PostgreSQL computes for a streamed posting is, byte for byte, the one
journal_post computes in Python (chain_hash over hash_entries) for the same entries."""

import random
import struct

import pytest
from django.db import connection

from payouts.services.journal.chain import chain_hash, hash_entries
from payouts.services.journal.entries import AccountRef
from payouts.services.journal.sql_hash import (
    entries_digest_params,
    entries_digest_sql,
    le64_sql,
)

pytestmark = pytest.mark.django_db
ROWS_SQL = """
SELECT * FROM unnest(%(ids)s::bigint[], %(payees)s::bigint[], %(amounts)s::bigint[])
    AS r(account_id, payee_id, amount)
"""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
PREV = "ab" * 32
HEADER = '{"created_at":"2026-12-05T22:00:00.000001Z","kind":"payout_reserve","sequence":7,"v":1}'


def _sql_digest(rows, payee_kind: str, balancing: AccountRef):
    params = {
        "ids": [r[0] for r in rows],
        "payees": [r[1] for r in rows],
        "amounts": [r[2] for r in rows],
        **entries_digest_params(PREV, HEADER, payee_kind, balancing),
    }
    with connection.cursor() as cursor:
        cursor.execute(entries_digest_sql(ROWS_SQL), params)
        return cursor.fetchone()


def _python_digest(rows, payee_kind: str, balancing: AccountRef) -> str:
    """What journal_post stores: the rows plus the balancing entry, in account order."""
    total = sum(amount for _id, _payee, amount in rows)
    entries = sorted(
        [(i, payee_kind, p, balancing.currency, a) for i, p, a in rows]
        + [(balancing.id, balancing.kind, balancing.payee_id, balancing.currency, -total)]
    )
    ids, kinds, payees, currencies, amounts = (
        list(column) for column in zip(*entries, strict=True)
    )
    return chain_hash(PREV, HEADER, hash_entries(ids, kinds, payees, currencies, amounts))


@pytest.mark.parametrize(
    "value",
    [0, 1, -1, 255, 256, 0x0102030405060708, -0x0102030405060708, INT64_MIN, INT64_MAX, 2**32],
)
def test_le64_is_struct_little_endian(value):
    with connection.cursor() as cursor:
        sql = f"SELECT {le64_sql('q.v')} FROM (SELECT (%s)::bigint AS v) q"  # noqa: S608
        cursor.execute(sql, [value])
        assert bytes(cursor.fetchone()[0]) == struct.pack("<q", value)


def _rows(rng: random.Random, n: int, ids: list[int]) -> list[tuple[int, int, int]]:
    amounts = [rng.choice([1, -1]) * rng.randrange(1, 2**40) for _ in range(n)]
    return [(i, rng.randrange(1, 2**62), a) for i, a in zip(ids, amounts, strict=True)]


@pytest.mark.parametrize("at", ["first", "middle", "last", "only payee row"])
@pytest.mark.parametrize("seed", range(3))
def test_sql_digest_equals_journal_post_hash(at, seed):
    rng = random.Random(seed)
    n = 1 if at == "only payee row" else rng.randrange(2, 300)
    ids = sorted(rng.sample(range(2, 2**62), n))
    balancing_id = {
        "first": 1,
        "middle": (ids[len(ids) // 2 - 1] + ids[len(ids) // 2]) // 2,
        "last": 2**63 - 1,
        "only payee row": ids[0] + 1,
    }[at]
    if balancing_id in ids:
        pytest.skip("drawn the balancing id")
    rows = _rows(rng, n, ids)
    if at == "middle":
        rows[0] = (rows[0][0], rows[0][1], INT64_MIN // 4)  # large negative, total still fits
        rows[-1] = (rows[-1][0], 2**63 - 1, INT64_MAX // 4)
    rng.shuffle(rows)  # any order: the hash sorts by account id
    balancing = AccountRef(balancing_id, "payout_in_transit", None, "eur")
    count, total, bad, digest = _sql_digest(rows, "payee_available", balancing)
    assert (count, total, bad) == (n, sum(r[2] for r in rows), False)
    assert digest == _python_digest(rows, "payee_available", balancing)


def test_sql_digest_of_many_rows_with_other_kinds():
    rng = random.Random(42)
    ids = sorted(rng.sample(range(1, 10**7), 5000))
    rows = _rows(rng, len(ids), ids)
    balancing = AccountRef(ids[1234] + 1, "platform_revenue", None, "usd")
    _count, _total, bad, digest = _sql_digest(rows, "payee_pending", balancing)
    assert not bad
    assert digest == _python_digest(rows, "payee_pending", balancing)


@pytest.mark.parametrize("bad", ["zero amount", "no payee", "balancing account"])
def test_unfit_rows_are_flagged(bad):
    rows = [(10, 1, 5), (11, 2, 6), (12, 3, 7)]
    balancing = AccountRef(20, "payout_in_transit", None, "usd")
    rows[1] = {
        "zero amount": (11, 2, 0),
        "no payee": (11, None, 6),
        "balancing account": (20, 2, 6),
    }[bad]
    assert _sql_digest(rows, "payee_available", balancing)[2] is True
