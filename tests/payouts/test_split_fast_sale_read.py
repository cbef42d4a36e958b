"""The sale's one-statement read of its accounts and share lines (platform accounts, pending
accounts, payee ids and weights unpacked from one bytea) and the split's negated output: a sale
posts the same entries, in the same order, with the same hash, whatever accounts existed before
and in whatever order the share lines were written."""

from array import array

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from contributors.models import ShareLine, ShareTable
from marketplace.services.errors import Invalid
from payouts.models import MICRO_PER_CENT, Entry, LedgerAccount
from payouts.services import ledger_verify, platform_account, sale_post, split_allocate
from payouts.services.journal import payee_accounts_ensure
from payouts.services.sales.sale import _int64_columns, rotation_key_for
from tests.payouts.conftest import payees_seeded, rotation_keys, set_shares

Kind = LedgerAccount.Kind


@settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=300).filter(any),
    key=rotation_keys,
)
def test_negated_shares_are_the_shares_negated_with_few_distinct_weights(amount, weights, key):
    shares = split_allocate(amount, weights, rotation_key=key)
    assert split_allocate(amount, weights, rotation_key=key, negated=True) == [-s for s in shares]
    assert split_allocate(amount, array("q", weights), rotation_key=key, negated=True) == [
        -s for s in shares
    ]


@settings(max_examples=200, deadline=None)
@given(
    amount=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=60).filter(
        any
    ),
    key=rotation_keys,
)
def test_negated_shares_are_the_shares_negated_with_many_distinct_weights(amount, weights, key):
    shares = split_allocate(amount, weights, rotation_key=key)
    assert split_allocate(amount, weights, rotation_key=key, negated=True) == [-s for s in shares]
    assert split_allocate(amount, array("q", weights), rotation_key=key) == shares


@pytest.mark.parametrize("weights", [[1, True], [2, 1.0], [1, 2.5]])
def test_a_list_of_weights_is_still_checked_item_by_item(weights):
    with pytest.raises(TypeError):
        split_allocate(10, weights, rotation_key=0)


def test_a_float_array_of_weights_is_refused():
    with pytest.raises(TypeError):
        split_allocate(10, array("d", [1.0, 2.0]), rotation_key=0)


def test_int64_columns_unpack_big_endian_triples_including_extremes():
    rows = [(1, 2, 3), (-1, 2**63 - 1, -(2**63)), (0, 7, 1000)]
    packed = b"".join(v.to_bytes(8, "big", signed=True) for row in rows for v in row)
    columns = _int64_columns(packed, 3)
    assert [list(column) for column in columns] == [
        list(column) for column in zip(*rows, strict=True)
    ]


def _weight_table(version, owner, payee_ids: list[int], weight_of) -> ShareTable:
    """A weight table over seeded payees, its lines written in the given payee order."""
    table = set_shares(version, owner, [("org", 1)], basis="weight")
    table.lines.all().delete()
    ShareLine.objects.bulk_create(
        ShareLine(table=table, payee_id=payee_id, weight=weight_of(payee_id), name="")
        for payee_id in payee_ids
    )
    return table


def _posted(sale) -> list[tuple[int, int, int | None, str, int]]:
    """(entry id, account id, payee id, kind, amount) of a sale, in entry order."""
    return list(
        Entry.objects.filter(transaction=sale)
        .order_by("id")
        .values_list("id", "account_id", "account__payee_id", "account__kind", "amount")
    )


@pytest.mark.django_db
@pytest.mark.parametrize("existing", ["none", "platform", "some payees", "all"])
def test_a_sale_posts_the_split_in_payee_order_whatever_accounts_existed(version, seller, existing):
    """Lines written in reverse payee order, over payees some of whose accounts exist: the
    entries come in account order, each payee gets the split of the payee-ordered weights, the
    platform and payee accounts are created once, and the chain verifies."""
    payees = payees_seeded(1_500, "sale-read.example")  # above the trigger's 1,000
    table = _weight_table(
        version, seller.owner, list(reversed(payees)), lambda p: 1 + (p * 7919) % 13
    )
    if existing in ("platform", "all"):
        platform_account(kind=Kind.PAYMENT_CLEARING, currency="usd")
        platform_account(kind=Kind.PLATFORM_REVENUE, currency="usd")
    if existing == "some payees":
        payee_accounts_ensure(kind=Kind.PAYEE_PENDING, currency="usd", payee_ids=payees[::3])
    if existing == "all":
        payee_accounts_ensure(kind=Kind.PAYEE_PENDING, currency="usd", payee_ids=payees)

    def sell():
        return sale_post(
            order_ref="read-1",
            dataset_version=version,
            gross_cents=1_000_003,
            platform_fee_cents=7,
            currency="usd",
            share_table=table,
        )

    sale = sell()

    entries = _posted(sale)
    by_payee = {payee: amount for _, _, payee, kind, amount in entries if payee is not None}
    ordered = sorted(payees)
    expected = split_allocate(
        (1_000_003 - 7) * MICRO_PER_CENT,
        [1 + (p * 7919) % 13 for p in ordered],
        rotation_key=rotation_key_for("sale:read-1"),
    )
    assert [by_payee[p] for p in ordered] == [-share for share in expected]
    platform = {kind: amount for _, _, payee, kind, amount in entries if payee is None}
    assert platform == {
        Kind.PAYMENT_CLEARING: 1_000_003 * MICRO_PER_CENT,
        Kind.PLATFORM_REVENUE: -7 * MICRO_PER_CENT,
    }
    assert {kind for *_, kind, _ in entries} <= {
        Kind.PAYMENT_CLEARING,
        Kind.PLATFORM_REVENUE,
        Kind.PAYEE_PENDING,
    }
    account_ids = [account for _, account, *_ in entries]
    assert account_ids == sorted(account_ids)  # written in the hash's canonical order
    assert LedgerAccount.objects.filter(kind=Kind.PAYEE_PENDING, payee_id__in=payees).count() == (
        len(payees)
    )
    assert (
        LedgerAccount.objects.filter(
            payee__isnull=True, kind__in=[Kind.PAYMENT_CLEARING, Kind.PLATFORM_REVENUE]
        ).count()
        == 2
    )
    assert sum(amount for *_, amount in entries) == 0
    assert ledger_verify().ok

    again = sell()
    assert again.pk == sale.pk
    assert _posted(again) == entries


@pytest.mark.django_db
def test_a_second_sale_reads_the_accounts_the_first_created(version, seller):
    payees = payees_seeded(40, "second-sale.example")
    table = _weight_table(version, seller.owner, payees, lambda p: 1 + p % 5)
    first = sale_post(
        order_ref="read-a",
        dataset_version=version,
        gross_cents=5_000,
        platform_fee_cents=100,
        currency="eur",
        share_table=table,
    )
    accounts_after_first = LedgerAccount.objects.count()
    second = sale_post(
        order_ref="read-b",
        dataset_version=version,
        gross_cents=7_001,
        platform_fee_cents=0,
        currency="eur",
        share_table=table,
    )
    assert LedgerAccount.objects.count() == accounts_after_first
    first_accounts = {account for _, account, *_ in _posted(first)}
    # No fee: no revenue entry (zero amounts are dropped), same accounts otherwise.
    second_accounts = {account for _, account, *_ in _posted(second)}
    revenue = LedgerAccount.objects.get(kind=Kind.PLATFORM_REVENUE, currency="eur").pk
    assert second_accounts == first_accounts - {revenue}
    assert ledger_verify().ok


@pytest.mark.django_db
def test_a_table_without_lines_is_refused_and_writes_nothing(version, seller):
    table = set_shares(version, seller.owner, [("org", 1)], basis="weight")
    table.lines.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM payouts_journaltransaction")
        (before,) = cursor.fetchone()
    with pytest.raises(Invalid, match="has no lines"):
        sale_post(
            order_ref="read-empty",
            dataset_version=version,
            gross_cents=100,
            platform_fee_cents=0,
            currency="usd",
            share_table=table,
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM payouts_journaltransaction")
        assert cursor.fetchone() == (before,)
