import pytest

from marketplace.services.errors import Conflict, Invalid
from payouts.models import MICRO_PER_CENT, Entry, JournalTransaction, LedgerAccount
from payouts.services import (
    currency_totals,
    ledger_verify,
    payee_balances,
    platform_balances,
    processor_fee_post,
    sale_post,
)
from tests.payouts.conftest import payee_of, set_shares

pytestmark = pytest.mark.django_db
M = MICRO_PER_CENT
Kind = LedgerAccount.Kind


def test_sale_splits_base_into_pending_and_fee_into_revenue(version, seller):
    table = set_shares(
        version, seller.owner, [("org", "50"), ("a@example.com", "30"), ("b@example.com", "20")]
    )
    sale = sale_post(
        order_ref="ord-1",
        dataset_version=version,
        gross_cents=1050,
        platform_fee_cents=50,
        currency="usd",
        external_reference="pi_123",
    )
    assert sale.kind == JournalTransaction.Kind.SALE
    assert sale.idempotency_key == "sale:ord-1"
    assert (sale.dataset_version_id, sale.share_table_id) == (version.pk, table.pk)
    assert sale.external_reference == "pi_123"
    assert platform_balances(currency="usd") == {
        Kind.PAYMENT_CLEARING: 1050 * M,
        Kind.PLATFORM_REVENUE: 50 * M,
    }
    pending = {
        who: payee_balances(payee_id=payee_of(table, who).pk)["usd"].pending
        for who in ("org", "a@example.com", "b@example.com")
    }
    assert pending == {"org": 500 * M, "a@example.com": 300 * M, "b@example.com": 200 * M}
    assert all(
        payee_balances(payee_id=payee_of(table, w).pk)["usd"].available == 0 for w in pending
    )
    assert currency_totals() == {"usd": 0}
    assert ledger_verify().ok


def test_split_by_weight_is_exact_to_the_micro_unit(version, seller):
    table = set_shares(
        version,
        seller.owner,
        [("org", 1), ("a@example.com", 1), ("b@example.com", 1)],
        basis="weight",
    )
    sale_post(
        order_ref="ord-thirds",
        dataset_version=version,
        gross_cents=101,
        platform_fee_cents=1,
        currency="eur",
    )
    shares = sorted(
        payee_balances(payee_id=payee_of(table, w).pk)["eur"].pending
        for w in ("org", "a@example.com", "b@example.com")
    )
    # 100 cents = 1,000,000 micro over three: 333,333 / 333,333 / 333,334.
    assert shares == [333_333, 333_333, 333_334]
    assert sum(shares) == 100 * M


def test_sale_is_idempotent_and_conflicting_replays_are_refused(version, seller):
    set_shares(version, seller.owner, [("org", "100")])
    args = dict(
        order_ref="ord-2",
        dataset_version=version,
        gross_cents=500,
        platform_fee_cents=25,
        currency="usd",
    )
    first = sale_post(**args)
    entries = Entry.objects.count()
    again = sale_post(**args)
    assert again.pk == first.pk
    assert (JournalTransaction.objects.count(), Entry.objects.count()) == (1, entries)
    for change in ({"gross_cents": 501}, {"platform_fee_cents": 0}, {"currency": "eur"}):
        with pytest.raises(Conflict):
            sale_post(**{**args, **change})
    assert JournalTransaction.objects.count() == 1


def test_sale_records_the_share_table_that_applied(version, seller):
    v1 = set_shares(version, seller.owner, [("org", "100")])
    first = sale_post(
        order_ref="ord-v1",
        dataset_version=version,
        gross_cents=100,
        platform_fee_cents=0,
        currency="usd",
    )
    v2 = set_shares(version, seller.owner, [("org", "60"), ("c@example.com", "40")])
    second = sale_post(
        order_ref="ord-v2",
        dataset_version=version,
        gross_cents=100,
        platform_fee_cents=0,
        currency="usd",
    )
    assert (first.share_table_id, second.share_table_id) == (v1.pk, v2.pk)
    assert payee_balances(payee_id=payee_of(v2, "c@example.com").pk)["usd"].pending == 40 * M
    # An explicit older table still applies when given.
    third = sale_post(
        order_ref="ord-v1-again",
        dataset_version=version,
        gross_cents=100,
        platform_fee_cents=0,
        currency="usd",
        share_table=v1,
    )
    assert third.share_table_id == v1.pk


def test_dataset_without_shares_pays_the_owning_organisation(version, seller):
    sale = sale_post(
        order_ref="ord-default",
        dataset_version=version,
        gross_cents=210,
        platform_fee_cents=10,
        currency="usd",
    )
    assert sale.share_table.lines.get().payee.organization == seller.organization
    org_payee = payee_of(sale.share_table, "org")
    assert payee_balances(payee_id=org_payee.pk)["usd"].pending == 200 * M


@pytest.mark.parametrize(
    "change",
    [
        {"gross_cents": 0},
        {"gross_cents": -5},
        {"gross_cents": 10.5},
        {"platform_fee_cents": -1},
        {"platform_fee_cents": 2000},
        {"currency": "USD"},
        {"currency": "dollars"},
        {"order_ref": ""},
    ],
)
def test_invalid_sales_are_refused_before_anything_is_written(version, change):
    args = dict(
        order_ref="ord-bad",
        dataset_version=version,
        gross_cents=1000,
        platform_fee_cents=50,
        currency="usd",
    )
    with pytest.raises(Invalid):
        sale_post(**{**args, **change})
    assert not JournalTransaction.objects.exists()


def test_share_table_of_another_dataset_is_refused(version, seller):
    from tests.catalogue_helpers import publish_dataset

    _, other = publish_dataset(seller.secret, name="Another dataset")
    other_table = set_shares(other, seller.owner, [("org", "100")])
    with pytest.raises(Invalid, match="another dataset"):
        sale_post(
            order_ref="ord-x",
            dataset_version=version,
            gross_cents=100,
            platform_fee_cents=0,
            currency="usd",
            share_table=other_table,
        )


def test_totals_per_currency_stay_zero_across_currencies_and_fees(version, seller):
    set_shares(version, seller.owner, [("org", "70"), ("d@example.com", "30")])
    for n, currency in enumerate(["usd", "eur", "usd", "gbp"]):
        sale_post(
            order_ref=f"ord-c{n}",
            dataset_version=version,
            gross_cents=997 + n,
            platform_fee_cents=49,
            currency=currency,
        )
    fee = processor_fee_post(
        balance_transaction_id="txn_1", fee_cents=59, currency="usd", order_ref="ord-c0"
    )
    assert fee.related_transaction.idempotency_key == "sale:ord-c0"
    assert (
        processor_fee_post(balance_transaction_id="txn_1", fee_cents=59, currency="usd").pk
        == fee.pk
    )
    with pytest.raises(Conflict):
        processor_fee_post(balance_transaction_id="txn_1", fee_cents=60, currency="usd")
    assert currency_totals() == {"eur": 0, "gbp": 0, "usd": 0}
    usd = platform_balances(currency="usd")
    assert usd[Kind.PROCESSOR_FEES] == 59 * M
    assert usd[Kind.PAYMENT_CLEARING] == (997 + 999 - 59) * M
    assert ledger_verify().ok
