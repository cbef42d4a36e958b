"""Disputes (chargebacks): disputes opened and closed at the Stripe emulator, their events
delivered through the real receiver in every order; the order, the grant, the downloads, the
payees' shares and the ledger checked after each."""

from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contributors.models import Payee
from licensing.models import Grant, Order
from licensing.selectors import disputes_open
from payouts.models import MICRO_PER_CENT, JournalTransaction, LedgerAccount
from payouts.selectors import payee_earnings, payee_earnings_by_month
from payouts.services import (
    EntryLines,
    currency_totals,
    holds_release,
    journal_post,
    ledger_verify,
    payee_account,
    payee_balances,
    platform_account,
    refund_window,
)
from tests.assertions import assert_error
from tests.licensing.conftest import publish
from tests.licensing.test_orders import PRICE, deliver_committed, order_for, pay

pytestmark = pytest.mark.django_db
M = MICRO_PER_CENT
TxKind = JournalTransaction.Kind
TOTAL = PRICE + 125  # the buyer pays base + the platform fee (5 %)
DISPUTE_FEE = 1500


@pytest.fixture
def paid_dataset(provider):
    return publish(provider, "Disputed corpus", isPaid=True, basePriceCents=PRICE, currency="usd")


@pytest.fixture
def sold(buyer, paid_dataset):
    return sell(buyer, paid_dataset)


def sell(buyer, paid_dataset):
    """A paid order (its sale posted, its grant issued) and its charge."""
    order = order_for(buyer, paid_dataset)
    charge = pay(order)
    deliver_committed("payment_intent.succeeded", order["paymentIntentId"])
    assert Order.objects.get(public_id=order["id"]).status == "paid"
    return order, charge


def dispute_open(charge: str, **data) -> str:
    response = requests.post(
        f"{settings.STRIPE_API_BASE}/_emulator/charges/{charge}/dispute", data=data, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


def dispute_close(dispute: str, status: str) -> None:
    response = requests.post(
        f"{settings.STRIPE_API_BASE}/_emulator/disputes/{dispute}/close",
        data={"status": status},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def org_balance(provider):
    payee = Payee.objects.get(organization=provider.org)
    return payee_balances(payee_id=payee.pk).get("usd")


def download(buyer, dataset):
    return buyer.client.post(f"/api/datasets/{dataset.public_id}/download")


def dispute_fee_posted() -> int:
    """Processor-fee postings of the dispute fee (1500 cents each)."""
    return sum(
        1
        for t in JournalTransaction.objects.filter(kind=TxKind.PROCESSOR_FEE)
        if sum(e.amount for e in t.entries.all() if e.amount > 0) == DISPUTE_FEE * M
    )


def later():
    return timezone.now() + refund_window() + timedelta(seconds=1)


def test_open_suspends_the_grant_and_holds_the_shares_won_releases_both(
    buyer, provider, paid_dataset, sold
):
    order, charge = sold
    assert download(buyer, paid_dataset).status_code in (200, 201)
    dispute = dispute_open(charge, reason="fraudulent")
    deliver_committed("charge.dispute.created", dispute)
    deliver_committed("charge.dispute.funds_withdrawn", dispute, times=2)
    o = Order.objects.get(public_id=order["id"])
    assert (o.dispute_status, o.dispute_id, o.dispute_reason) == ("open", dispute, "fraudulent")
    assert list(disputes_open()) == [o]
    grant = Grant.objects.get(order_ref=order["id"])
    assert grant.status == "active"  # suspended, not revoked
    refused = assert_error(download(buyer, paid_dataset), 409, "grant_suspended_dispute")
    assert dispute in refused["message"] and order["id"] in refused["message"]
    # Held: not releasable even past the refund window.
    assert holds_release(now=later()).released == 0
    shares = org_balance(provider)
    assert shares.pending == PRICE * M and shares.available == 0
    assert dispute_fee_posted() == 1

    dispute_close(dispute, "won")
    deliver_committed("charge.dispute.closed", dispute)
    deliver_committed("charge.dispute.funds_reinstated", dispute)
    o.refresh_from_db()
    assert o.dispute_status == "won" and o.dispute_closed_at is not None
    assert not disputes_open().exists()
    assert download(buyer, paid_dataset).status_code in (200, 201)
    assert holds_release(now=later()).released == 1
    shares = org_balance(provider)
    assert shares.pending == 0 and shares.available == PRICE * M
    assert not JournalTransaction.objects.filter(kind=TxKind.DISPUTE_LOSS).exists()
    assert dispute_fee_posted() == 1
    assert currency_totals() == {"usd": 0} and ledger_verify().ok


def test_lost_reverses_like_a_full_refund_and_revokes_the_grant(
    buyer, provider, paid_dataset, sold
):
    order, charge = sold
    dispute = dispute_open(charge)
    deliver_committed("charge.dispute.created", dispute)
    dispute_close(dispute, "lost")
    deliver_committed("charge.dispute.closed", dispute, times=3)  # replays
    deliver_committed("charge.dispute.created", dispute)  # a late replay of the opening
    o = Order.objects.get(public_id=order["id"])
    assert o.dispute_status == "lost"
    assert Grant.objects.get(order_ref=order["id"]).status == "revoked"
    assert_error(download(buyer, paid_dataset), 402)
    loss = JournalTransaction.objects.get(kind=TxKind.DISPUTE_LOSS)
    assert loss.idempotency_key == f"dispute-loss:{dispute}"
    clearing = sum(
        e.amount
        for e in loss.entries.all()
        if e.account.kind == LedgerAccount.Kind.PAYMENT_CLEARING
    )
    assert clearing == -TOTAL * M
    shares = org_balance(provider)
    assert shares.pending == 0 and shares.available == 0
    assert dispute_fee_posted() == 1
    # The sale is done with: its (empty) hold release is not blocked any more.
    assert holds_release(now=later()).released == 1
    assert currency_totals() == {"usd": 0} and ledger_verify().ok


@pytest.mark.parametrize(
    "events",
    [
        # closed before created, funds_withdrawn last
        ["charge.dispute.closed", "charge.dispute.created", "charge.dispute.funds_withdrawn"],
        # funds_withdrawn first
        ["charge.dispute.funds_withdrawn", "charge.dispute.closed", "charge.dispute.created"],
        # only the funds_withdrawn event arrives
        ["charge.dispute.funds_withdrawn"],
    ],
)
def test_lost_in_any_order_of_events_reaches_the_same_state(buyer, sold, events):
    order, charge = sold
    dispute = dispute_open(charge)
    dispute_close(dispute, "lost")
    for event_type in events:
        deliver_committed(event_type, dispute)
    o = Order.objects.get(public_id=order["id"])
    assert o.dispute_status == "lost"
    assert JournalTransaction.objects.filter(kind=TxKind.DISPUTE_LOSS).count() == 1
    # Never held: it was lost when we first read it.
    assert not JournalTransaction.objects.filter(kind=TxKind.DISPUTE_HOLD).exists()
    assert Grant.objects.get(order_ref=order["id"]).status == "revoked"
    assert dispute_fee_posted() == 1
    assert currency_totals() == {"usd": 0}


def test_won_before_its_created_event_arrives_never_holds(buyer, paid_dataset, sold):
    order, charge = sold
    dispute = dispute_open(charge)
    dispute_close(dispute, "won")
    deliver_committed("charge.dispute.closed", dispute)
    deliver_committed("charge.dispute.created", dispute)
    deliver_committed("charge.dispute.funds_withdrawn", dispute)
    assert Order.objects.get(public_id=order["id"]).dispute_status == "won"
    assert not JournalTransaction.objects.filter(kind=TxKind.DISPUTE_HOLD).exists()
    assert download(buyer, paid_dataset).status_code in (200, 201)
    assert holds_release(now=later()).released == 1


def test_a_dispute_before_the_payment_event_pays_the_order_first(buyer, paid_dataset):
    order = order_for(buyer, paid_dataset)
    charge = pay(order)  # no payment_intent.succeeded delivered yet
    dispute = dispute_open(charge)
    deliver_committed("charge.dispute.created", dispute)
    o = Order.objects.get(public_id=order["id"])
    assert o.status == "paid" and o.dispute_status == "open"
    assert JournalTransaction.objects.filter(kind=TxKind.SALE).count() == 1
    deliver_committed("payment_intent.succeeded", order["paymentIntentId"])
    assert JournalTransaction.objects.filter(kind=TxKind.SALE).count() == 1
    assert_error(download(buyer, paid_dataset), 409, "grant_suspended_dispute")


def test_dispute_after_release_and_payout_holds_then_nets_the_loss(buyer, provider, sold):
    """Released and paid out before the dispute: the hold takes the share back out of
    AVAILABLE (negative: later payouts net it); won gives it back, lost keeps it taken."""
    order, charge = sold
    assert holds_release(now=later()).released == 1
    payee = Payee.objects.get(organization=provider.org)
    paid = org_balance(provider).available
    assert paid == PRICE * M
    with transaction.atomic():  # a payout of the whole available balance, as a run posts it
        lines = EntryLines()
        lines.add(payee_account(payee_id=payee.pk, kind="payee_available", currency="usd"), paid)
        lines.add(platform_account(kind="payment_clearing", currency="usd"), -paid)
        journal_post(idempotency_key="payout-line:dispute-test", kind="payout", lines=lines)
    dispute = dispute_open(charge)
    deliver_committed("charge.dispute.created", dispute)
    held = org_balance(provider)
    assert held.available == -paid and held.pending == paid
    # The earnings pages follow: still earned while disputed (shown as pending again).
    [row] = payee_earnings(payee=payee).datasets
    assert (row.earned, row.pending) == (paid, paid)
    dispute_close(dispute, "lost")
    deliver_committed("charge.dispute.closed", dispute)
    lost = org_balance(provider)
    assert lost.pending == 0 and lost.available == -paid  # netted against later payouts
    # A lost dispute is taken back from the earnings like a full refund, per dataset and month.
    [row] = payee_earnings(payee=payee).datasets
    assert (row.earned, row.pending) == (0, 0)
    [months] = payee_earnings_by_month(payee=payee)
    assert sum(m.earned for m in months.months) == 0
    assert currency_totals() == {"usd": 0} and ledger_verify().ok


def test_won_after_release_gives_the_share_back_to_available(buyer, provider, sold):
    order, charge = sold
    assert holds_release(now=later()).released == 1
    dispute = dispute_open(charge)
    deliver_committed("charge.dispute.created", dispute)
    assert org_balance(provider).available == 0
    dispute_close(dispute, "won")
    deliver_committed("charge.dispute.closed", dispute, times=2)
    balance = org_balance(provider)
    assert balance.available == PRICE * M and balance.pending == 0
    assert JournalTransaction.objects.filter(kind=TxKind.DISPUTE_RELEASE).count() == 1
