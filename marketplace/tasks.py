from datetime import timedelta

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from marketplace.models import StripeEvent
from marketplace.webhooks import stripe_event_dispatch

HEARTBEAT_KEY = "celery:heartbeat"
MAX_EVENT_ATTEMPTS = 10


@shared_task
def celery_heartbeat() -> str:
    """Written by the worker on beat's schedule; proves both run."""
    now = timezone.now().isoformat()
    cache.set(HEARTBEAT_KEY, now, timeout=3600)
    return now


@shared_task
def stripe_event_process(event_pk: int) -> str:
    return stripe_event_dispatch(event_pk=event_pk).status


@shared_task
def stripe_events_process_pending() -> int:
    """Re-run events that failed or whose task was lost (older than a minute, not processed)."""
    cutoff = timezone.now() - timedelta(minutes=1)
    pks = list(
        StripeEvent.objects.filter(
            status__in=[StripeEvent.Status.PENDING, StripeEvent.Status.FAILED],
            received_at__lt=cutoff,
            attempts__lt=MAX_EVENT_ATTEMPTS,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    for pk in pks:
        stripe_event_process.delay(pk)
    return len(pks)
