"""Disputes (chargebacks) of paid orders, driven by Stripe.

Every `charge.dispute.*` event makes us re-fetch the dispute from Stripe (never trusting the
payload) and bring the order to what its status says (`order_dispute_sync`), so duplicates,
replays and any order of the events (closed before created, funds_withdrawn first, ...) converge:

* open (needs_response, under_review, warning_*): the order's dispute is `open`; its grant is
  suspended (downloads refused naming the dispute, the grant is not revoked) and the sale's
  payee shares are held (`dispute_hold_post`: not payable while open, even past the refund
  window);
* won (or an inquiry closed without a chargeback, `warning_closed`): `won`; the hold is
  released (`dispute_release_post`), the grant is in force again;
* lost: `lost`; the disputed amount is reversed like a full refund (`dispute_loss_post`,
  netted against later payouts if already paid) and the grant is revoked.

Stripe's dispute fee (the fee of the dispute's balance transactions) is posted to processor
fees, once per balance transaction. Ledger postings are idempotent by the dispute id."""

import logging

from django.db import transaction
from django.utils import timezone

from licensing.models import Grant, Order
from licensing.services.grants import grant_revoke
from licensing.services.orders import order_payment_sync
from marketplace.payments import stripe_client
from marketplace.services.audit import audit_record
from payouts.services import (
    dispute_hold_post,
    dispute_loss_post,
    dispute_release_post,
    processor_fee_post,
)

logger = logging.getLogger(__name__)
DisputeStatus = Order.DisputeStatus

WON_STATUSES = ("won", "warning_closed")


def dispute_outcome(stripe_status: str) -> str:
    """Our dispute status for Stripe's."""
    if stripe_status == "lost":
        return DisputeStatus.LOST
    if stripe_status in WON_STATUSES:
        return DisputeStatus.WON
    return DisputeStatus.OPEN


def _order_of_charge(charge_id: str) -> Order | None:
    """The order paid by the charge. A dispute can reach us before the payment's own event:
    then the payment is synced first, from Stripe, so the order is paid and has its sale."""
    order = Order.objects.filter(charge_id=charge_id).first()
    if order is not None:
        return order
    charge = stripe_client().charges.retrieve(charge_id)
    intent = charge.get("payment_intent")
    intent_id = intent if isinstance(intent, str) or intent is None else intent.id
    if not intent_id:
        return None
    order = order_payment_sync(payment_intent_id=intent_id)
    return order if order is not None and order.charge_id == charge_id else None


def order_dispute_sync(*, dispute_id: str) -> Order | None:
    """Bring the disputed order to what Stripe says of dispute `dispute_id` (see module
    docstring). Stripe is read with no transaction open; the order is then locked and each
    step re-checked. Idempotent: replaying any event changes nothing more. Returns the order,
    or None when the charge is not one of our orders."""
    dispute = stripe_client().disputes.retrieve(dispute_id)
    order = _order_of_charge(dispute["charge"])
    if order is None or order.status == Order.Status.PENDING:
        logger.info("Dispute %s: charge %s is not a paid order of ours", dispute_id, dispute.charge)
        return None
    for txn in dispute.get("balance_transactions") or []:
        if txn.get("fee"):
            processor_fee_post(
                balance_transaction_id=txn["id"],
                fee_cents=txn["fee"],
                currency=txn["currency"],
                order_ref=order.public_id,
            )
    outcome = dispute_outcome(dispute["status"])
    with transaction.atomic(durable=True):
        order = Order.objects.select_for_update().select_related("organization").get(pk=order.pk)
        if order.dispute_id and order.dispute_id != dispute.id and order.dispute_status == "open":
            # Stripe allows one open dispute per charge; another id while one is open is stale.
            logger.warning(
                "Order %s: dispute %s while %s is open", order, dispute.id, order.dispute_id
            )
        previous = order.dispute_status if order.dispute_id == dispute.id else ""
        if previous in (DisputeStatus.WON, DisputeStatus.LOST):
            return order  # closed: a late `created` or `funds_withdrawn` changes nothing
        if outcome == DisputeStatus.OPEN:
            dispute_hold_post(dispute_id=dispute.id, order_ref=order.public_id)
        elif outcome == DisputeStatus.WON:
            dispute_release_post(dispute_id=dispute.id, order_ref=order.public_id)
        else:
            dispute_loss_post(
                dispute_id=dispute.id, amount_cents=dispute["amount"], order_ref=order.public_id
            )
            for grant in Grant.objects.filter(
                order_ref=order.public_id, status=Grant.Status.ACTIVE
            ):
                grant_revoke(grant=grant, actor=None, reason=f"dispute {dispute.id} lost")
        if previous == outcome:
            return order
        order.dispute_id = dispute.id
        order.dispute_status = outcome
        order.dispute_reason = (dispute.get("reason") or "dispute")[:200]
        order.disputed_at = order.disputed_at or timezone.now()
        order.dispute_closed_at = None if outcome == DisputeStatus.OPEN else timezone.now()
        order.save(
            update_fields=[
                "dispute_id",
                "dispute_status",
                "dispute_reason",
                "disputed_at",
                "dispute_closed_at",
                "updated_at",
            ]
        )
        audit_record(
            actor=None,
            organization=order.organization,
            action=f"order.dispute_{outcome}",
            obj=order,
            data={
                "dispute": dispute.id,
                "charge": dispute["charge"],
                "reason": order.dispute_reason,
                "amount_cents": dispute["amount"],
            },
        )
        return order


def handle_dispute_event(event) -> None:
    """`charge.dispute.created|updated|closed|funds_withdrawn|funds_reinstated`."""
    order_dispute_sync(dispute_id=event.payload["data"]["object"]["id"])
