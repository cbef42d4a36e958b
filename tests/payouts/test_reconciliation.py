"""Reconciliation against the Stripe emulator: real charges, refunds and payout transfers match
exactly one ledger transaction each; what does not match, on either side, is reported, and so
are clearing amounts that do not return to zero.

The emulator lives for the whole test session, so it also holds other tests' objects (whose
ledger rows were rolled back): assertions name this test's own objects."""

import pytest

from payouts.models import ReconciliationReport
from payouts.services import refund_post, sale_post
from payouts.services.reconciliation import reconciliation_run
from payouts.services.runs import payout_run_create, payout_run_execute
from tests.payouts.conftest import payee_of, set_shares
from tests.payouts.test_payout_runs import emulator, enable_payouts, sell_and_release

pytestmark = pytest.mark.django_db


def paid_intent(amount: int):
    return emulator().payment_intents.create(
        params={
            "amount": amount,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )


def problems_about(report: ReconciliationReport, ids) -> list[tuple[str, str, str]]:
    ids = {str(i) for i in ids}
    return sorted((p["problem"], p["object"], p["id"]) for p in report.problems if p["id"] in ids)


def test_charges_refunds_and_transfers_each_match_one_transaction(version, seller, settings):
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 100}
    table = set_shares(version, seller.owner, [("org", "100")])
    enable_payouts(payee_of(table, "org"))

    intent = paid_intent(1500)
    sale = sale_post(
        order_ref="rec1",
        dataset_version=version,
        gross_cents=1500,
        platform_fee_cents=150,
        currency="usd",
        external_reference=intent.id,
    )
    stripe_refund = emulator().refunds.create(params={"payment_intent": intent.id, "amount": 500})
    refund = refund_post(refund_id=stripe_refund.id, sale=sale, amount_cents=500)
    sell_and_release(version, refs=[])  # release the hold of rec1
    run = payout_run_create(currency="usd")
    payout_run_execute(run=run)
    line = run.lines.get()

    report = reconciliation_run()
    ours = [intent.latest_charge.id, stripe_refund.id, line.transfer_id]
    ours += [sale.pk, refund.pk, line.payout_transaction_id]
    assert problems_about(report, ours) == []
    assert report.counts["matched"] >= 3
    assert not [p for p in report.problems if p["object"].startswith("ledger_")]
    assert not [p for p in report.problems if p["id"].startswith("payout_in_transit")]


def test_unmatched_items_on_both_sides_and_clearing_differences_are_reported(version, seller):
    set_shares(version, seller.owner, [("org", "100")])
    orphan = paid_intent(700)  # a charge the ledger never heard of
    wrong = paid_intent(1000)
    # Recorded with the wrong amount: the clearing of this charge does not return to zero.
    short = sale_post(
        order_ref="rec-short",
        dataset_version=version,
        gross_cents=900,
        platform_fee_cents=0,
        currency="usd",
        external_reference=wrong.id,
    )
    ghost = sale_post(
        order_ref="rec-ghost",
        dataset_version=version,
        gross_cents=300,
        platform_fee_cents=0,
        currency="usd",
        external_reference="pi_not_in_stripe",
    )
    unreferenced = sale_post(
        order_ref="rec-none",
        dataset_version=version,
        gross_cents=300,
        platform_fee_cents=0,
        currency="usd",
    )

    report = reconciliation_run()
    assert not report.ok
    assert problems_about(
        report, [orphan.latest_charge.id, wrong.latest_charge.id, ghost.pk, unreferenced.pk]
    ) == sorted(
        [
            ("unmatched", "stripe_charge", orphan.latest_charge.id),
            ("clearing_not_zero", "stripe_charge", wrong.latest_charge.id),
            ("unmatched", "ledger_sale", str(ghost.pk)),
            ("unmatched", "ledger_sale", str(unreferenced.pk)),
        ]
    )
    assert problems_about(report, [short.pk]) == []  # matched (once)
    assert ReconciliationReport.objects.latest("created_at") == report


def test_a_charge_matched_twice_is_reported(version, seller):
    set_shares(version, seller.owner, [("org", "100")])
    intent = paid_intent(400)
    for ref in ("twice-a", "twice-b"):
        sale_post(
            order_ref=ref,
            dataset_version=version,
            gross_cents=400,
            platform_fee_cents=0,
            currency="usd",
            external_reference=intent.id,
        )
    report = reconciliation_run()
    assert ("matched_more_than_once", "stripe_charge", intent.latest_charge.id) in [
        (p["problem"], p["object"], p["id"]) for p in report.problems
    ]
