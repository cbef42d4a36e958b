"""The one Stripe webhook receiver. It verifies the signature, stores each event once by id and
processes it after commit. Apps register handlers per event type in their AppConfig.ready(), so a
lower layer never imports a higher one (DESIGN.md, layering)."""

import json
import logging
from collections import defaultdict
from collections.abc import Callable

import stripe
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.models import StripeEvent
from marketplace.payments import stripe_event_construct

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
    """Verify and store an event. Returns (event, created). A replayed event is stored once."""
    try:
        event = stripe_event_construct(payload=payload, signature=signature)
    except ValueError as exc:
        raise WebhookRejected(f"Invalid payload: {exc}") from exc
    except stripe.SignatureVerificationError as exc:
        raise WebhookRejected(f"Invalid signature: {exc.user_message or exc}") from exc

    from marketplace.tasks import stripe_event_process

    try:
        with transaction.atomic():
            stored = StripeEvent.objects.create(
                event_id=event["id"],
                type=event["type"],
                livemode=bool(event.get("livemode", False)),
                payload=json.loads(payload),
            )
            transaction.on_commit(lambda: stripe_event_process.delay(stored.pk))
    except IntegrityError:
        return StripeEvent.objects.get(event_id=event["id"]), False
    return stored, True


def stripe_event_dispatch(*, event_pk: int) -> StripeEvent:
    """Run the registered handlers of one stored event, once. Handlers must be idempotent
    (they re-fetch the object from Stripe and key their writes on our own rows), because a
    crash after a handler's commit and before ours makes the event run again."""
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_pk)
        if event.status == StripeEvent.Status.PROCESSED:
            return event
        event.attempts += 1
        try:
            with transaction.atomic():
                for handler in stripe_handlers_for(event.type):
                    handler(event)
        except Exception as exc:
            logger.exception("Stripe event %s failed", event.event_id)
            event.status = StripeEvent.Status.FAILED
            event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            event.save(update_fields=["status", "attempts", "last_error"])
            return event
        event.status = StripeEvent.Status.PROCESSED
        event.processed_at = timezone.now()
        event.last_error = ""
        event.save(update_fields=["status", "attempts", "last_error", "processed_at"])
        return event
