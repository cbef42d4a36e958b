from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from marketplace.health import HEARTBEAT_KEY
from marketplace.services import identity, ingestion, invitations, uploads
from marketplace.services.submissions import submission_after_submit
from marketplace.webhooks import stripe_event_dispatch, stripe_events_due

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
    """Re-run events that failed, whose task was lost (older than a minute, not processed) or
    whose run's claim expired (its worker died mid-run)."""
    pks = stripe_events_due(limit=500, max_attempts=MAX_EVENT_ATTEMPTS)
    for pk in pks:
        stripe_event_process.delay(pk)
    return len(pks)


@shared_task
def submission_process_submitted(submission_pk: int) -> str:
    return submission_after_submit(submission_pk=submission_pk).status


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=8)
def submission_files_purge(submission_pk: int) -> int:
    """Delete the stored files of a deleted submission (idempotent: missing objects are fine)."""
    return uploads.submission_files_purge(submission_pk=submission_pk)


@shared_task
def file_uploads_expire() -> int:
    return uploads.file_uploads_expire()


INGESTION_MAX_RETRIES = 5


# On the ingestion queue (config/celery.py), bounded by its own limits.
@shared_task(
    bind=True,
    max_retries=INGESTION_MAX_RETRIES,
    time_limit=settings.INGESTION_TASK_TIME_LIMIT,
    soft_time_limit=settings.INGESTION_TASK_TIME_LIMIT - 60,
)
def check_run_execute(self, run_pk: int) -> str:
    """Inspect one uploaded file. Storage errors and crashes retry with exponential backoff;
    when the retries are spent the run records a clear `error` (never stuck in `checking`)."""
    try:
        return ingestion.check_run_execute(run_pk=run_pk).status
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            return ingestion.check_run_fail(
                run_pk=run_pk, error=f"{type(exc).__name__}: {exc}"
            ).status
        ingestion.check_run_release(run_pk=run_pk)
        raise self.retry(exc=exc, countdown=min(600, 5 * 2**self.request.retries)) from exc


@shared_task
def submission_checks_conclude_task(submission_pk: int) -> str:
    return ingestion.submission_checks_conclude(submission_pk=submission_pk).status


@shared_task
def check_runs_requeue_stale() -> int:
    return ingestion.check_runs_requeue_stale()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def organization_invitation_send(invitation_id: int) -> bool:
    """E-mail an invitation to join an organisation (SMTP errors are OSErrors and retried; each
    attempt issues a new link)."""
    return invitations.organization_invitation_send(invitation_id=invitation_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def upload_access_decision_notify(organization_id: int) -> int:
    return identity.upload_access_decision_notify(organization_id=organization_id)
