"""Orders and payments (and the processor's fee of each paid charge, from Stripe's balance
transaction).

An order is created with the client's Idempotency-Key (same key → same order and one Stripe
PaymentIntent; same key with another body → 422). Payment state is never taken from a webhook's
payload: every event makes us re-fetch the PaymentIntent and its charge from Stripe and bring the
order to what Stripe says (`order_payment_sync`), so duplicates, concurrent deliveries and any
order of events converge on the same state. Paid → `sale_post` + grant in one transaction;
refunds → `refund_post` per Stripe refund (idempotent by refund id), a full refund revokes the
grant. Disputes: licensing.services.disputes."""

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensing.errors import PaymentRequired  # noqa: F401 - re-exported for callers
from licensing.models import AccessRequest, Grant, Order
from licensing.selectors import dataset_terms, grant_active_for, terms_acceptance_latest
from licensing.services.events import order_paid_emit
from licensing.services.grants import grant_issue, grant_revoke
from marketplace.actors import Actor
from marketplace.models import Dataset
from marketplace.observability.request_id import stripe_request_metadata
from marketplace.payments import PaymentProviderUnavailable, stripe_client, stripe_error
from marketplace.pricing import platform_fee_cents
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.tasking import task_enqueue_on_commit
from payouts.services import processor_fee_post, refund_post, sale_post

logger = logging.getLogger(__name__)
# licensing.tasks.order_duplicate_refund_task, enqueued by name (marketplace.tasking).
DUPLICATE_REFUND_TASK = "licensing.tasks.order_duplicate_refund_task"


def _order_public_id(*, organization, idempotency_key: str) -> str:
    """The public id of the order a request with this Idempotency-Key creates: the same for a
    retry, so the PaymentIntent's Stripe idempotency key (`order:<id>`) and its parameters are
    the same too, and a retry after Stripe created the intent but the answer was lost gets that
    intent back. Keyed with SECRET_KEY, so not guessable from the client's key."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(),
        f"order:{organization.pk}:{idempotency_key}".encode(),
        hashlib.sha256,
    ).digest()
    return "ord" + base64.b32encode(digest).decode().lower()[:20]


def request_fingerprint(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _orderable_dataset(*, actor: Actor, dataset_id: str) -> Dataset:
    dataset = (
        Dataset.objects.select_related("latest_version", "organization")
        .filter(public_id=dataset_id, latest_version__isnull=False)
        .first()
    )
    if dataset is None or (
        dataset.visibility == "private" and dataset.organization_id != actor.organization.pk
    ):
        raise NotFound(f"Dataset {dataset_id} not found.")
    if dataset.removed_at is not None:
        raise Invalid("This dataset was removed from the platform.", code="dataset_removed")
    if dataset.organization_id == actor.organization.pk:
        raise Conflict(
            "Your organisation publishes this dataset; it needs no order.", code="own_dataset"
        )
    if not dataset.is_paid or not dataset.base_price_cents:
        raise Conflict(
            "This dataset is free: accept its terms and download it.", code="dataset_free"
        )
    if (
        dataset.visibility == "restricted"
        and not AccessRequest.objects.filter(
            dataset=dataset, organization=actor.organization, status="approved"
        ).exists()
    ):
        raise Forbidden(
            "This dataset is restricted: your organisation needs an approved access request "
            f"(POST /api/datasets/{dataset.public_id}/access-requests) before buying it.",
            code="access_not_approved",
        )
    return dataset


def order_create(*, actor: Actor, dataset_id: str, idempotency_key: str) -> Order:
    """Create (or return, for a repeated Idempotency-Key) an order and its PaymentIntent for
    totalPriceCents. Requires accepted current terms (they are what the grant will name). An
    organisation has at most one open order per dataset: a request with another key while one
    is open returns that order (a double click never makes a second charge)."""
    idempotency_key = (idempotency_key or "").strip()
    if not idempotency_key or len(idempotency_key) > 255:
        raise Invalid(
            "An Idempotency-Key header (1–255 characters) is required.",
            code="idempotency_key_required",
        )
    fingerprint = request_fingerprint({"datasetId": dataset_id})
    created = None  # the order this request inserts, discarded if Stripe cannot be reached
    order = Order.objects.filter(
        organization=actor.organization, idempotency_key=idempotency_key
    ).first()
    if order is not None:
        if order.request_fingerprint != fingerprint:
            raise Invalid(
                "This Idempotency-Key was used with a different request body.",
                code="idempotency_key_reused",
            )
    else:
        dataset = _orderable_dataset(actor=actor, dataset_id=dataset_id)
        order = _open_order(actor=actor, dataset=dataset)
    if order is None:
        if grant_active_for(organization=actor.organization, dataset=dataset) is not None:
            raise Conflict(
                "Your organisation already holds an active grant for this dataset.",
                code="already_licensed",
            )
        terms = dataset_terms(dataset)
        if (
            terms_acceptance_latest(
                organization=actor.organization, dataset=dataset, terms_hash=terms.hash
            )
            is None
        ):
            raise Forbidden(
                f"Accept the dataset's current terms first (POST /api/datasets/{dataset.public_id}/terms "
                f'with {{"termsHash": "{terms.hash}"}}).',
                code="terms_not_accepted",
                termsHash=terms.hash,
            )
        base = dataset.base_price_cents
        fee = platform_fee_cents(base)
        try:
            with transaction.atomic():
                order = created = Order.objects.create(
                    public_id=_order_public_id(
                        organization=actor.organization, idempotency_key=idempotency_key
                    ),
                    organization=actor.organization,
                    user=actor.user,
                    dataset=dataset,
                    dataset_version=dataset.latest_version,
                    terms_hash=terms.hash,
                    base_price_cents=base,
                    platform_fee_cents=fee,
                    total_price_cents=base + fee,
                    currency=dataset.currency or "usd",
                    idempotency_key=idempotency_key,
                    request_fingerprint=fingerprint,
                )
                audit_record(
                    actor=actor,
                    organization=actor.organization,
                    action="order.create",
                    obj=order,
                    data={"dataset": dataset.public_id, "total_cents": base + fee},
                )
        except IntegrityError:
            # A concurrent request won the insert: with the same key, answer with its order;
            # with another key, the open order of this dataset is the one to pay.
            order = Order.objects.filter(
                organization=actor.organization, idempotency_key=idempotency_key
            ).first() or _open_order(actor=actor, dataset=dataset)
            if order is None:
                raise
            if order.request_fingerprint != fingerprint:
                raise Invalid(
                    "This Idempotency-Key was used with a different request body.",
                    code="idempotency_key_reused",
                ) from None
    if not order.payment_intent_id:
        try:
            _payment_intent_attach(order)
        except PaymentProviderUnavailable:
            if order is created:
                _order_discard(order)
            raise
    return order


@transaction.atomic
def _order_discard(order: Order) -> None:
    """Stripe could not be reached for the order this request created: nothing is left of it
    (no orphan order); a retry with the same Idempotency-Key creates it again with the same id
    and gets the PaymentIntent Stripe may have created meanwhile (same idempotency key).
    The audit log stays append-only: it records the discard after the creation."""
    if Order.objects.filter(pk=order.pk, payment_intent_id__isnull=True).delete()[0]:
        audit_record(
            actor=None,
            organization=order.organization,
            action="order.discard",
            obj=order,
            data={"why": "payment provider unreachable", "order": order.public_id},
        )


def _open_order(*, actor: Actor, dataset: Dataset) -> Order | None:
    """The organisation's open (pending or failed, so still payable) order of the dataset."""
    return (
        Order.objects.select_related("dataset")
        .filter(
            organization=actor.organization,
            dataset=dataset,
            status__in=[Order.Status.PENDING, Order.Status.FAILED],
        )
        .first()
    )


def _payment_intent_attach(order: Order) -> None:
    """Create the order's PaymentIntent (Stripe idempotency key derived from our row, so a retry
    after a crash or a Stripe outage gets the same PaymentIntent) and store its id."""
    key = f"order:{order.public_id}"
    try:
        intent = stripe_client().payment_intents.create(
            params={
                "amount": order.total_price_cents,
                "currency": order.currency,
                "metadata": {
                    "order_id": order.public_id,
                    "dataset_id": order.dataset.public_id,
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
    Order.objects.filter(pk=order.pk, payment_intent_id__isnull=True).update(
        payment_intent_id=intent.id, client_secret=intent.client_secret or ""
    )
    order.refresh_from_db()


@dataclass(frozen=True)
class PaymentState:
    """What Stripe says about an order's payment, fetched with no transaction open."""

    intent: Any
    charge: Any = None  # with its refunds
    balance_txn: Any = None  # the charge's balance transaction (its processor fee)


def _payment_state_fetch(payment_intent_id: str) -> PaymentState:
    client = stripe_client()
    intent = client.payment_intents.retrieve(payment_intent_id)
    charges = intent.get("charges")
    charge = charges.data[0] if charges and charges.data else None
    if charge is None and intent.get("latest_charge"):
        charge = client.charges.retrieve(intent["latest_charge"])
    balance_txn = None
    if charge is not None:
        charge = client.charges.retrieve(charge.id)  # with its refunds
        if charge.get("balance_transaction"):
            balance_txn = client.balance_transactions.retrieve(charge["balance_transaction"])
    return PaymentState(intent=intent, charge=charge, balance_txn=balance_txn)


def order_payment_sync(*, payment_intent_id: str) -> Order | None:
    """Bring an order to the state Stripe reports for its PaymentIntent and charge. Idempotent
    and order-independent: the Stripe reads happen with no transaction open, then one short
    transaction locks the order and applies each transition whose condition holds."""
    order = Order.objects.filter(payment_intent_id=payment_intent_id).first()
    if order is None:
        return None
    state = _payment_state_fetch(payment_intent_id)
    return _order_apply(order_pk=order.pk, state=state)


def _order_mark_paid(order: Order, state: PaymentState) -> None:
    """pending/failed → paid: the sale is posted to the ledger and the grant issued."""
    intent, charge = state.intent, state.charge
    if intent.status != "succeeded" or order.status not in (
        Order.Status.PENDING,
        Order.Status.FAILED,
    ):
        return
    if intent.amount != order.total_price_cents or intent.currency != order.currency:
        raise Invalid(f"PaymentIntent {intent.id} amount does not match order {order.public_id}.")
    order.status = Order.Status.PAID
    order.paid_at = timezone.now()
    order.charge_id = charge.id if charge is not None else ""
    order.save(update_fields=["status", "paid_at", "charge_id", "updated_at"])
    order_paid_emit(order)
    sale_post(
        order_ref=order.public_id,
        dataset_version=order.dataset_version,
        gross_cents=order.total_price_cents,
        platform_fee_cents=order.platform_fee_cents,
        currency=order.currency,
        external_reference=charge.id if charge is not None else intent.id,
    )
    held = grant_active_for(organization=order.organization, dataset=order.dataset)
    if held is not None:
        # Paid for what the organisation already holds (an order superseded by another that was
        # paid first): the money came in (the sale is posted) and goes back at once (a refund at
        # Stripe, keyed on this order, whose refund then posts like any other).
        audit_record(
            actor=None,
            organization=order.organization,
            action="order.duplicate_payment",
            obj=order,
            data={"payment_intent": intent.id, "grant": held.public_id},
        )
        task_enqueue_on_commit(DUPLICATE_REFUND_TASK, order.pk)
        return
    grant_issue(
        organization=order.organization,
        dataset=order.dataset,
        terms_hash=order.terms_hash,
        source=Grant.Source.PURCHASE,
        order=order,
        actor=None,
    )
    audit_record(
        actor=None,
        organization=order.organization,
        action="order.paid",
        obj=order,
        data={"payment_intent": intent.id},
    )


def _order_post_processor_fee(order: Order, state: PaymentState) -> None:
    """The processor's fee on a paid charge, carried by the platform (idempotent per txn)."""
    txn = state.balance_txn
    if order.status == Order.Status.PENDING or txn is None or not txn.get("fee"):
        return
    processor_fee_post(
        balance_transaction_id=txn["id"],
        fee_cents=txn["fee"],
        currency=txn["currency"],
        order_ref=order.public_id,
    )


def _order_mark_canceled(order: Order, state: PaymentState) -> None:
    """pending → canceled when the PaymentIntent was canceled."""
    if state.intent.status == "canceled" and order.status == Order.Status.PENDING:
        order.status = Order.Status.CANCELED
        order.save(update_fields=["status", "updated_at"])


def _order_apply_refunds(order: Order, state: PaymentState) -> None:
    """paid → partially_refunded → refunded: each Stripe refund posted once (by its id); a full
    refund revokes the grant."""
    charge = state.charge
    if order.status not in (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED) or charge is None:
        return
    refunds = [
        r
        for r in (charge.get("refunds") or {}).get("data", [])
        if r.get("status") in ("succeeded", "pending")
    ]
    for refund in sorted(refunds, key=lambda r: r["id"]):
        refund_post(
            refund_id=refund["id"], amount_cents=refund["amount"], order_ref=order.public_id
        )
    refunded = sum(r["amount"] for r in refunds)
    if not refunded or refunded == order.refunded_cents:
        return
    order.refunded_cents = refunded
    order.status = (
        Order.Status.REFUNDED
        if refunded >= order.total_price_cents
        else Order.Status.PARTIALLY_REFUNDED
    )
    order.save(update_fields=["refunded_cents", "status", "updated_at"])
    if order.status == Order.Status.REFUNDED:
        for grant in Grant.objects.filter(order_ref=order.public_id, status=Grant.Status.ACTIVE):
            grant_revoke(grant=grant, actor=None, reason="order fully refunded")
    audit_record(
        actor=None,
        organization=order.organization,
        action="order.refund",
        obj=order,
        data={"refunded_cents": refunded},
    )


# One function per Stripe-driven transition, applied in this order under the order's lock.
_TRANSITIONS = (
    _order_mark_paid,
    _order_post_processor_fee,
    _order_mark_canceled,
    _order_apply_refunds,
)


def _order_apply(*, order_pk: int, state: PaymentState) -> Order:
    with transaction.atomic(durable=True):
        order = (
            Order.objects.select_for_update()
            .select_related("dataset", "dataset_version", "organization")
            .get(pk=order_pk)
        )
        for transition in _TRANSITIONS:
            transition(order, state)
        return order


def order_payment_failed(*, payment_intent_id: str) -> Order | None:
    intent = stripe_client().payment_intents.retrieve(payment_intent_id)
    with transaction.atomic():
        order = (
            Order.objects.select_for_update().filter(payment_intent_id=payment_intent_id).first()
        )
        if (
            order is not None
            and order.status == Order.Status.PENDING
            and intent.status != "succeeded"
        ):
            order.status = Order.Status.FAILED
            order.save(update_fields=["status", "updated_at"])
        return order


# --- webhook handlers (registered in LicensingConfig.ready) -----------------------------------


def handle_payment_intent_event(event) -> None:
    order_payment_sync(payment_intent_id=event.payload["data"]["object"]["id"])


def handle_payment_failed(event) -> None:
    order_payment_failed(payment_intent_id=event.payload["data"]["object"]["id"])


def handle_charge_refunded(event) -> None:
    charge = stripe_client().charges.retrieve(event.payload["data"]["object"]["id"])
    if charge.get("payment_intent"):
        order_payment_sync(payment_intent_id=charge["payment_intent"])
