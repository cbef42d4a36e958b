"""The one Stripe webhook receiver. It verifies the signature, stores each event once by id and
processes it after commit. Apps register handlers per event type in their AppConfig.ready(), so a
lower layer never imports a higher one (DESIGN.md, layering)."""

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from marketplace.models import StripeEvent
from marketplace.payments import stripe_event_construct
from marketplace.tasking import task_enqueue_on_commit

# The task that runs `stripe_event_dispatch` (marketplace.tasks), enqueued by name.
STRIPE_EVENT_TASK = "marketplace.tasks.stripe_event_process"

logger = logging.getLogger(__name__)

_handlers: dict[str, list[Callable[[StripeEvent], None]]] = defaultdict(list)


def stripe_handler_register(event_type: str, handler: Callable[[StripeEvent], None]) -> None:
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def stripe_handlers_for(event_type: str) -> list[Callable[[StripeEvent], None]]:
    return list(_handlers.get(event_type, ()))


class WebhookRejected(Exception):
    pass


def stripe_event_receive(*, payload: bytes, signature: str) -> tuple[StripeEvent, bool]:
    """Verify and store an event. Returns (event, created). A replayed event is stored once; a
    replay of one whose last run failed is queued again at once; one pending (its task is
    queued) or being processed right now is left alone."""
    try:
        event = stripe_event_construct(payload=payload, signature=signature)
    except ValueError as exc:
        raise WebhookRejected(f"Invalid payload: {exc}") from exc
    except stripe.SignatureVerificationError as exc:
        raise WebhookRejected(f"Invalid signature: {exc.user_message or exc}") from exc

    try:
        with transaction.atomic():
            stored = StripeEvent.objects.create(
                event_id=event["id"],
                type=event["type"],
                livemode=bool(event.get("livemode", False)),
                payload=json.loads(payload),
            )
            task_enqueue_on_commit(STRIPE_EVENT_TASK, stored.pk)
    except IntegrityError:
        stored = StripeEvent.objects.get(event_id=event["id"])
        if stored.status == StripeEvent.Status.FAILED:
            task_enqueue_on_commit(STRIPE_EVENT_TASK, stored.pk)
        return stored, False
    return stored, True


def _event_claim(event_pk: int) -> StripeEvent | None:
    """Claim the event for this run in a short transaction of its own; None when it is
    processed or claimed by a live run elsewhere. The attempt number is the claim's token."""
    now = timezone.now()
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_pk)
        if event.status == StripeEvent.Status.PROCESSED:
            return None
        if (
            event.status == StripeEvent.Status.PROCESSING
            and event.claimed_until is not None
            and event.claimed_until > now
        ):
            return None
        event.status = StripeEvent.Status.PROCESSING
        event.attempts += 1
        event.claimed_until = now + timedelta(seconds=settings.STRIPE_EVENT_LEASE_SECONDS)
        event.save(update_fields=["status", "attempts", "claimed_until"])
    return event


def _event_finish(event: StripeEvent, *, error: str = "") -> None:
    """Record the run's outcome if our claim still stands (a run that outlived its lease and was
    re-claimed by another does not overwrite the newer run's outcome)."""
    done = {"status": StripeEvent.Status.FAILED if error else StripeEvent.Status.PROCESSED}
    if not error:
        done["processed_at"] = timezone.now()
    StripeEvent.objects.filter(
        pk=event.pk, status=StripeEvent.Status.PROCESSING, attempts=event.attempts
    ).update(last_error=error[:2000], claimed_until=None, **done)


def stripe_event_dispatch(*, event_pk: int) -> StripeEvent:
    """Run the registered handlers of one stored event, once. No transaction is open and no row
    lock is held while they run: the event is claimed in a short transaction first, each handler
    fetches what it needs from Stripe with no transaction open and applies it in its own short
    transaction that re-checks the state. Handlers must be idempotent (they re-fetch the object
    from Stripe and key their writes on our own rows), because a crash after a handler's commit
    and before ours makes the event run again."""
    event = _event_claim(event_pk)
    if event is None:
        return StripeEvent.objects.get(pk=event_pk)
    try:
        for handler in stripe_handlers_for(event.type):
            handler(event)
    except Exception as exc:
        logger.exception("Stripe event %s failed", event.event_id)
        _event_finish(event, error=f"{type(exc).__name__}: {exc}")
    else:
        _event_finish(event)
    event.refresh_from_db()
    return event


def stripe_events_due(*, limit: int, max_attempts: int) -> list[int]:
    """Events to run again: failed, pending for over a minute (their task was lost), or claimed
    by a run whose lease expired."""
    now = timezone.now()
    S = StripeEvent.Status
    return list(
        StripeEvent.objects.filter(
            Q(status__in=[S.PENDING, S.FAILED], received_at__lt=now - timedelta(minutes=1))
            | Q(status=S.PROCESSING, claimed_until__lt=now),
            attempts__lt=max_attempts,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
