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


@shared_task
def submission_process_submitted(submission_pk: int) -> str:
    from marketplace.services.submissions import submission_after_submit

    return submission_after_submit(submission_pk=submission_pk).status


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=8)
def submission_files_purge(submission_pk: int) -> int:
    """Delete the stored files of a deleted submission (idempotent: missing objects are fine)."""
    from marketplace.services.uploads import submission_files_purge as purge

    return purge(submission_pk=submission_pk)


@shared_task
def file_uploads_expire() -> int:
    from marketplace.services.uploads import file_uploads_expire as expire

    return expire()


INGESTION_MAX_RETRIES = 5


@shared_task(bind=True, max_retries=INGESTION_MAX_RETRIES)
def check_run_execute(self, run_pk: int) -> str:
    """Inspect one uploaded file. Storage errors and crashes retry with exponential backoff;
    when the retries are spent the run records a clear `error` (never stuck in `checking`)."""
    from marketplace.services.ingestion import check_run_execute as execute
    from marketplace.services.ingestion import check_run_fail

    try:
        return execute(run_pk=run_pk).status
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            return check_run_fail(run_pk=run_pk, error=f"{type(exc).__name__}: {exc}").status
        raise self.retry(exc=exc, countdown=min(600, 5 * 2**self.request.retries)) from exc


@shared_task
def submission_checks_conclude_task(submission_pk: int) -> str:
    from marketplace.services.ingestion import submission_checks_conclude

    return submission_checks_conclude(submission_pk=submission_pk).status


@shared_task
def check_runs_requeue_stale() -> int:
    from marketplace.services.ingestion import check_runs_requeue_stale as requeue

    return requeue()
