from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from marketplace.services.errors import Conflict, Invalid, NotFound
from payouts.models import MICRO_PER_CENT, Entry, JournalTransaction, LedgerAccount
from payouts.services import (
    EntryLines,
    currency_totals,
    holds_release,
    journal_post,
    ledger_verify,
    payee_account,
    payee_balances,
    platform_account,
    platform_balances,
    refund_post,
    sale_hold_release,
    sale_post,
    sale_remainder,
)
from tests.payouts.conftest import payee_of, set_shares

pytestmark = pytest.mark.django_db
M = MICRO_PER_CENT
Kind = LedgerAccount.Kind
TxKind = JournalTransaction.Kind
PAYEES = ("org", "a@example.com", "b@example.com")


@pytest.fixture
def table(version, seller):
    return set_shares(
        version,
        seller.owner,
        [("org", 1), ("a@example.com", 1), ("b@example.com", 1)],
        basis="weight",
    )


def _sale(version, ref="ord-r", gross=1000, fee=100, currency="usd"):
    return sale_post(
        order_ref=ref,
        dataset_version=version,
        gross_cents=gross,
        platform_fee_cents=fee,
        currency=currency,
    )


def _balances(table, currency="usd"):
    return {w: payee_balances(payee_id=payee_of(table, w).pk)[currency] for w in PAYEES}


def _later(days=None):
    from payouts.services import refund_window

    return timezone.now() + (timedelta(days=days) if days is not None else refund_window())


def test_full_refund_before_release_reverses_everything(version, table):
    sale = _sale(version)
    refund = refund_post(refund_id="re_1", order_ref="ord-r", amount_cents=1000)
    assert refund.kind == TxKind.REFUND and refund.related_transaction_id == sale.pk
    assert refund.external_reference == "re_1"
    assert all(b.pending == 0 and b.available == 0 for b in _balances(table).values())
    assert platform_balances(currency="usd") == {
        Kind.PAYMENT_CLEARING: 0,
        Kind.PLATFORM_REVENUE: 0,
    }
    left = sale_remainder(sale)
    assert (left.gross, left.platform_fee, set(left.payees.values())) == (0, 0, {0})
    with pytest.raises(Invalid) as excinfo:
        refund_post(refund_id="re_2", order_ref="ord-r", amount_cents=1)
    assert excinfo.value.code == "refund_exceeds_sale"
    assert ledger_verify().ok


def test_partial_refunds_are_proportional_and_end_exactly_at_zero(version, table):
    sale = _sale(version, gross=1003, fee=53)  # base 950 cents over three equal weights
    shares_before = {w: b.pending for w, b in _balances(table).items()}
    assert sorted(shares_before.values()) == [3_166_666, 3_166_667, 3_166_667]
    refund_post(refund_id="re_a", sale=sale, amount_cents=301)
    left = sale_remainder(sale)
    assert left.gross == (1003 - 301) * M
    # The refund is split fee : base as 53 : 950, then the base part in thirds.
    fee_part = 53 * M - left.platform_fee
    assert abs(fee_part - 301 * M * 53 / 1003) <= 1
    for w, before in shares_before.items():
        taken = before - _balances(table)[w].pending
        assert abs(taken - (301 * M - fee_part) / 3) <= 1
    refund_post(refund_id="re_b", sale=sale, amount_cents=2)
    refund_post(refund_id="re_c", sale=sale, amount_cents=699)
    with pytest.raises(Invalid, match="exceeds"):
        refund_post(refund_id="re_d", sale=sale, amount_cents=2)
    refund_post(refund_id="re_e", sale=sale, amount_cents=1)
    assert all(b.pending == 0 for b in _balances(table).values())
    assert platform_balances(currency="usd")[Kind.PLATFORM_REVENUE] == 0
    assert currency_totals() == {"usd": 0}


def test_refund_larger_than_the_sale_is_refused_and_writes_nothing(version, table):
    sale = _sale(version)
    count = JournalTransaction.objects.count()
    with pytest.raises(Invalid, match="exceeds"):
        refund_post(refund_id="re_big", sale=sale, amount_cents=1001)
    refund_post(refund_id="re_half", sale=sale, amount_cents=600)
    with pytest.raises(Invalid, match="exceeds the 400 cents"):
        refund_post(refund_id="re_rest", sale=sale, amount_cents=401)
    assert JournalTransaction.objects.count() == count + 1
    for bad in (0, -5, 1.5, True):
        with pytest.raises(Invalid):
            refund_post(refund_id="re_bad", sale=sale, amount_cents=bad)
    with pytest.raises(NotFound):
        refund_post(refund_id="re_nosale", order_ref="nope", amount_cents=1)


def test_refund_is_idempotent_per_refund_id(version, table):
    sale = _sale(version)
    first = refund_post(refund_id="re_same", sale=sale, amount_cents=250)
    entries = Entry.objects.count()
    assert refund_post(refund_id="re_same", order_ref="ord-r", amount_cents=250).pk == first.pk
    assert Entry.objects.count() == entries
    with pytest.raises(Conflict):
        refund_post(refund_id="re_same", sale=sale, amount_cents=251)
    other = _sale(version, ref="ord-other")
    with pytest.raises(Conflict):
        refund_post(refund_id="re_same", sale=other, amount_cents=250)
    assert sale_remainder(sale).gross == 750 * M


def test_hold_release_moves_pending_to_available_after_the_window(version, table):
    sale = _sale(version, gross=1000, fee=100)
    assert holds_release().released == 0  # inside the window
    with pytest.raises(Invalid, match="refund window"):
        sale_hold_release(sale=sale)
    refund_post(refund_id="re_pre", sale=sale, amount_cents=100)  # before release: pending
    before = _balances(table)
    result = holds_release(now=_later())
    assert (result.released, result.failed) == (1, 0)
    after = _balances(table)
    for w in PAYEES:
        assert after[w].pending == 0
        assert after[w].available == before[w].pending
    assert sum(b.available for b in after.values()) == 810 * M  # 900 base - 90 refunded
    release = JournalTransaction.objects.get(kind=TxKind.HOLD_RELEASE)
    assert release.related_transaction_id == sale.pk
    assert release.idempotency_key == "hold-release:sale:ord-r"
    # Idempotent: nothing more to release, and releasing the sale again returns the same row.
    assert holds_release(now=_later()).released == 0
    assert sale_hold_release(sale=sale, now=_later()).pk == release.pk
    assert JournalTransaction.objects.filter(kind=TxKind.HOLD_RELEASE).count() == 1
    assert ledger_verify().ok


def test_refund_after_release_comes_out_of_available(version, table):
    sale = _sale(version, gross=1000, fee=100)
    holds_release(now=_later())
    refund_post(refund_id="re_post", sale=sale, amount_cents=500)
    balances = _balances(table)
    assert all(b.pending == 0 for b in balances.values())
    assert sum(b.available for b in balances.values()) == 450 * M
    assert platform_balances(currency="usd")[Kind.PLATFORM_REVENUE] == 50 * M


def test_refund_after_payout_makes_the_available_balance_negative(version, table):
    sale = _sale(version, gross=1000, fee=100)
    holds_release(now=_later())
    org = payee_of(table, "org")
    paid = payee_balances(payee_id=org.pk)["usd"].available
    # A payout (as payout runs will post it): the org's available balance leaves to its account.
    with transaction.atomic():
        available = payee_account(payee_id=org.pk, kind=Kind.PAYEE_AVAILABLE, currency="usd")
        clearing = platform_account(kind=Kind.PAYMENT_CLEARING, currency="usd")
        lines = EntryLines()
        lines.add(available, paid)
        lines.add(clearing, -paid)
        journal_post(idempotency_key="payout-line:test-1", kind="payout", lines=lines)
    assert payee_balances(payee_id=org.pk)["usd"].available == 0
    refund_post(refund_id="re_after_payout", sale=sale, amount_cents=1000)
    owed = payee_balances(payee_id=org.pk)["usd"]
    assert owed.available == -paid and owed.pending == 0
    assert currency_totals() == {"usd": 0}
    assert ledger_verify().ok


def test_fully_refunded_sale_releases_nothing_but_is_marked_done(version, table):
    sale = _sale(version)
    refund_post(refund_id="re_all", sale=sale, amount_cents=1000)
    assert holds_release(now=_later()).released == 1
    release = JournalTransaction.objects.get(kind=TxKind.HOLD_RELEASE)
    assert not release.entries.exists()
    assert holds_release(now=_later()).released == 0


def test_refund_window_setting(version, table, settings):
    settings.REFUND_WINDOW_DAYS = 30
    _sale(version)
    assert holds_release(now=_later(days=14)).released == 0
    assert holds_release(now=_later(days=30)).released == 1


def test_periodic_task_releases_due_sales(version, table, settings):
    from payouts.tasks import holds_release as task

    settings.REFUND_WINDOW_DAYS = 0
    _sale(version, ref="ord-t1")
    _sale(version, ref="ord-t2")
    assert task.delay().get() == {"released": 2, "failed": 0}
    assert task.delay().get() == {"released": 0, "failed": 0}
    assert sum(b.available for b in _balances(table).values()) == 2 * 900 * M


def test_sale_that_is_all_fee_can_be_refunded_and_released(version, table):
    """Found by the stateful test: a base price of 0 credits no payee."""
    sale = _sale(version, ref="ord-fee-only", gross=7, fee=7)
    assert set(sale.entries.values_list("account__kind", flat=True)) == {
        Kind.PAYMENT_CLEARING,
        Kind.PLATFORM_REVENUE,
    }
    refund_post(refund_id="re_fee_1", sale=sale, amount_cents=3)
    assert holds_release(now=_later()).released == 1
    refund_post(refund_id="re_fee_2", sale=sale, amount_cents=4)
    assert platform_balances(currency="usd") == {
        Kind.PAYMENT_CLEARING: 0,
        Kind.PLATFORM_REVENUE: 0,
    }
    assert ledger_verify().ok
