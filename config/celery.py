"""The Celery app. Reliability settings come from Django settings (CELERY_* in
config/settings/base.py); every periodic task of the project is declared here, in one place."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("datacollective")
app.config_from_object("django.conf:settings", namespace="CELERY")

BEAT_SCHEDULE = {
    # Liveness of worker + beat, reported by /healthz.
    "celery-heartbeat": {
        "task": "marketplace.tasks.celery_heartbeat",
        "schedule": 60.0,
    },
    # Stripe events whose processing failed or was never enqueued are retried.
    "stripe-events-process-pending": {
        "task": "marketplace.tasks.stripe_events_process_pending",
        "schedule": crontab(minute="*/5"),
    },
    # Upload sessions past their expiry are aborted in storage and answer 410.
    "file-uploads-expire": {
        "task": "marketplace.tasks.file_uploads_expire",
        "schedule": crontab(minute=17),
    },
    # Ingestion check runs whose task was lost are queued again (never stuck in `checking`).
    "check-runs-requeue-stale": {
        "task": "marketplace.tasks.check_runs_requeue_stale",
        "schedule": crontab(minute="*/10"),
    },
    # Sales past the refund window: pending -> available (idempotent, per sale).
    "payouts-holds-release": {
        "task": "payouts.tasks.holds_release",
        "schedule": crontab(minute=23),
    },
    # A payout run per currency with payable balances, executed after commit.
    "payout-runs-create": {
        "task": "payouts.tasks.payout_runs_create",
        "schedule": crontab(hour=3, minute=0),
    },
    # Unfinished runs again: after a Stripe outage or a crash, and to confirm sent transfers.
    "payout-runs-execute-open": {
        "task": "payouts.tasks.payout_runs_execute_open",
        "schedule": crontab(minute="*/15"),
    },
    # Every Stripe charge, refund and transfer matched to exactly one ledger transaction.
    "payouts-reconcile": {"task": "payouts.tasks.reconcile", "schedule": crontab(hour=4, minute=0)},
    # Access requests pending too long are flagged to staff; grants past their end expire.
    "access-requests-mark-stale": {
        "task": "licensing.tasks.access_requests_mark_stale",
        "schedule": crontab(minute=23),
    },
    "grants-mark-expired": {
        "task": "licensing.tasks.grants_mark_expired",
        "schedule": crontab(minute="*/15"),
    },
}
app.conf.beat_schedule = BEAT_SCHEDULE

app.autodiscover_tasks()
