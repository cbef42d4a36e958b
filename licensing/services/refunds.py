"""Refunds started by finance staff (the order's admin page calls `order_refund_request`), and
the handler of Stripe's refund events (refunds made anywhere: our services, Stripe's
dashboard), and the automatic refund of a duplicate payment."""

import stripe
from django.db import IntegrityError, transaction

from licensing.models import Order, RefundRequest
from licensing.services.orders import order_payment_sync
from marketplace.models import User
from marketplace.observability.request_id import stripe_request_metadata
from marketplace.payments import PaymentProviderUnavailable, stripe_client, stripe_error
from marketplace.services.audit import audit_record
from marketplace.services.errors import Invalid

REFUNDABLE = (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED)


def _refundable_left(order: Order) -> int:
    """Cents of the order not refunded yet (as synced from Stripe), less refunds asked for
    whose Stripe call has not answered yet."""
    asked = sum(
        RefundRequest.objects.filter(
            order=order, status=RefundRequest.Status.REQUESTED
        ).values_list("amount_cents", flat=True)
    )
    return order.total_price_cents - order.refunded_cents - asked


def order_refund_request(
    *, user: User, order: Order, amount_cents: int | None, reason: str
) -> RefundRequest:
    """Refund an order at Stripe, in full (`amount_cents` None: what is left) or in part.

    Rules: the order is paid or partially refunded; 0 < amount <= what is left (refunds already
    made or asked for count); a reason is required; each Invalid with a readable message.
    The RefundRequest row is stored first and its pk is the Stripe idempotency key
    (`staff-refund:<pk>`), so a retry after a crash or a timeout never refunds twice; a double
    submit (same order, amount and reason) returns the first request, one Stripe refund.
    Audited. The ledger postings come from the refund's webhook / payment sync (run here once
    too), as for every refund."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("A reason is required for a refund.", code="refund_reason_required")
    if len(reason) > 500:
        raise Invalid("The reason must be at most 500 characters.", code="refund_reason_too_long")
    if amount_cents is not None and (
        isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0
    ):
        raise Invalid("The refund amount must be a positive number of cents.", code="refund_amount")
    try:
        refund_request = _request_store(
            user=user, order=order, amount_cents=amount_cents, reason=reason
        )
    except IntegrityError:
        # A concurrent double submit won the insert: it is the same request.
        same = RefundRequest.objects.filter(order=order, reason=reason)
        if amount_cents is not None:
            same = same.filter(amount_cents=amount_cents)
        refund_request = same.order_by("pk").first()
        if refund_request is None:
            raise
    return _send(refund_request)


@transaction.atomic
def _request_store(
    *, user: User, order: Order, amount_cents: int | None, reason: str
) -> RefundRequest:
    """Check and store the request under the order's lock (no Stripe call here)."""
    order = Order.objects.select_for_update().select_related("organization").get(pk=order.pk)
    same = RefundRequest.objects.filter(order=order, reason=reason).exclude(
        status=RefundRequest.Status.FAILED
    )
    if amount_cents is not None:
        same = same.filter(amount_cents=amount_cents)
    existing = same.order_by("pk").first()
    if existing is not None:
        return existing  # a double submit: the same request, one Stripe refund
    if order.status not in REFUNDABLE:
        raise Invalid(
            f"Order {order.public_id} is {order.status}: only a paid or partially refunded "
            "order can be refunded.",
            code="order_not_refundable",
        )
    left = _refundable_left(order)
    amount = left if amount_cents is None else amount_cents
    if left <= 0 or amount > left:
        raise Invalid(
            f"A refund of {amount} cents exceeds the {max(left, 0)} cents of order "
            f"{order.public_id} not refunded yet.",
            code="refund_exceeds_order",
        )
    refund_request = RefundRequest.objects.create(
        order=order, requested_by=user, amount_cents=amount, reason=reason
    )
    audit_record(
        actor=user,
        organization=order.organization,
        action="order.refund_request",
        obj=order,
        data={"refund_request": refund_request.pk, "amount_cents": amount, "reason": reason},
    )
    return refund_request


def _send(refund_request: RefundRequest) -> RefundRequest:
    """Make (or find, same idempotency key) the Stripe refund of the request, with no
    transaction open, then record its id and bring the order to what Stripe says."""
    if refund_request.stripe_refund_id:
        return refund_request
    order = refund_request.order
    key = f"staff-refund:{refund_request.pk}"
    try:
        refund = stripe_client().refunds.create(
            params={
                "payment_intent": order.payment_intent_id,
                "amount": refund_request.amount_cents,
                "metadata": {
                    "order_id": order.public_id,
                    "refund_request": str(refund_request.pk),
                    **stripe_request_metadata(key),
                },
            },
            options={"idempotency_key": key},
        )
    except stripe.InvalidRequestError as exc:
        RefundRequest.objects.filter(pk=refund_request.pk).update(
            status=RefundRequest.Status.FAILED, failure_message=str(exc.user_message or exc)[:2000]
        )
        raise Invalid(
            f"Stripe refused the refund: {exc.user_message or exc}", code="refund_refused"
        ) from exc
    except stripe.StripeError as exc:
        if stripe_error(exc) is None:
            raise
        # Nothing is lost: the request keeps its row and idempotency key for the next submit.
        raise PaymentProviderUnavailable(
            "The payment provider is unreachable; submit the refund again later."
        ) from exc
    status = {
        "succeeded": RefundRequest.Status.SUCCEEDED,
        "pending": RefundRequest.Status.PENDING,
    }.get(refund.status, RefundRequest.Status.FAILED)
    RefundRequest.objects.filter(pk=refund_request.pk).update(
        stripe_refund_id=refund.id, status=status
    )
    refund_request.refresh_from_db()
    order_payment_sync(payment_intent_id=order.payment_intent_id)
    return refund_request


def handle_refund_event(event) -> None:
    """`refund.created` / `refund.updated`: sync the refunded charge's order from Stripe
    (idempotent by refund id, like `charge.refunded`)."""
    client = stripe_client()
    refund = client.refunds.retrieve(event.payload["data"]["object"]["id"])
    charge = client.charges.retrieve(refund["charge"])
    if charge.get("payment_intent"):
        order_payment_sync(payment_intent_id=charge["payment_intent"])


def order_duplicate_refund(*, order_pk: int) -> Order:
    """Refund in full, at Stripe, an order paid for a dataset its organisation already held (the
    Stripe idempotency key comes from our row, so a retry never refunds twice), then bring the
    order to what Stripe says: the refund is posted and the order becomes refunded."""
    order = Order.objects.get(pk=order_pk)
    if order.status != Order.Status.PAID or order.refunded_cents:
        return order
    key = f"duplicate-refund:{order.public_id}"
    try:
        stripe_client().refunds.create(
            params={
                "payment_intent": order.payment_intent_id,
                "metadata": {
                    "order_id": order.public_id,
                    "why": "duplicate payment",
                    **stripe_request_metadata(key),
                },
            },
            options={"idempotency_key": key},
        )
    except stripe.StripeError as exc:
        unavailable = stripe_error(exc)
        if unavailable is None:
            raise
        raise unavailable from exc
    return order_payment_sync(payment_intent_id=order.payment_intent_id) or order
