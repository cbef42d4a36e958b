"""The Celery app. Reliability settings come from Django settings (CELERY_* in
config/settings/base.py); every periodic task of the project is declared here, in one place."""

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import celeryd_init
from kombu import Exchange, Queue

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
    # Ingestion check runs whose worker died (stale heartbeat) or whose message was lost are
    # queued again (never stuck in `checking`); every INGESTION_SWEEP_SECONDS (set below).
    "check-runs-requeue-stale": {
        "task": "marketplace.tasks.check_runs_requeue_stale",
        "schedule": 60.0,
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
    # Hourly repairs: refunds, disputes and fees at Stripe missing from the ledger (a lost
    # webhook) applied through the webhook handlers, incrementally (stored watermarks).
    "payouts-reconcile-repair": {
        "task": "payouts.tasks.reconcile_repair",
        "schedule": crontab(minute=41),
    },
    # Provable statements (issue 13 §4): the previous month's signed Merkle root, on the 1st
    # (idempotent; a root differing from the published one is refused, never overwritten).
    "payouts-statement-root": {
        "task": "payouts.tasks.statement_root_publish_previous",
        "schedule": crontab(day_of_month=1, hour=2, minute=30),
    },
    # Access requests pending too long are flagged to staff; grants past their end expire.
    "access-requests-mark-stale": {
        "task": "licensing.tasks.access_requests_mark_stale",
        "schedule": crontab(minute=23),
    },
    "grants-mark-expired": {
        "task": "licensing.tasks.grants_mark_expired",
        "schedule": crontab(minute="*/15"),
    },
    # Outbound events to licensees: deliveries whose retry time came (or whose task was lost).
    "event-deliveries-send-due": {
        "task": "marketplace.events.tasks.event_deliveries_send_due",
        "schedule": 60.0,
    },
}
app.conf.beat_schedule = BEAT_SCHEDULE

# --- Queues and visibility timeouts (issue 11, D5) ------------------------------------------
# Ingestion passes (hours on a large archive) run on a queue of their own, so the broker's
# visibility timeout can match each queue's longest task: a worker killed mid-task has its
# ordinary tasks redelivered after CELERY_VISIBILITY_TIMEOUT, not after the ingestion limit.
# (Check runs do not wait for that either: their heartbeat sweep requeues them in minutes.)
INGESTION_TASKS = frozenset({"marketplace.tasks.check_run_execute"})


def ingestion_queue() -> str:
    from django.conf import settings

    return settings.INGESTION_QUEUE or f"{app.conf.task_default_queue}.ingestion"


def route_task(name, args, kwargs, options, task=None, **kw):
    if name in INGESTION_TASKS:
        return {"queue": ingestion_queue()}
    return None


app.conf.task_routes = (route_task,)


def worker_transport_options(queues: set[str]) -> dict:
    """Broker options of a worker consuming `queues`. Kombu restores a dead worker's unacked
    messages once they are older than the restoring worker's visibility timeout, from the
    unacked set that worker uses; ingestion workers therefore keep a set of their own, so a
    short timeout elsewhere never hands a running ingestion pass to a second worker."""
    from django.conf import settings

    options = dict(app.conf.broker_transport_options or {})
    if ingestion_queue() in queues:
        options.update(
            visibility_timeout=settings.INGESTION_VISIBILITY_TIMEOUT,
            unacked_key="unacked_ingestion",
            unacked_index_key="unacked_index_ingestion",
            unacked_mutex_key="unacked_mutex_ingestion",
        )
    else:
        options["visibility_timeout"] = settings.CELERY_VISIBILITY_TIMEOUT
    return options


@celeryd_init.connect
def _worker_queues(sender=None, conf=None, options=None, **kwargs):
    """A worker started without -Q consumes the default and the ingestion queue (one worker
    does everything, as in `make run` and the compose file), with the ingestion visibility
    timeout; `-Q <default>` and `-Q <default>.ingestion` split them, each with its own."""
    requested = (options or {}).get("queues")
    if requested:
        queues = {q for q in (requested.split(",") if isinstance(requested, str) else requested)}
    else:
        queues = {app.conf.task_default_queue, ingestion_queue()}
        app.conf.task_queues = [Queue(q, Exchange(q), routing_key=q) for q in sorted(queues)]
    app.conf.broker_transport_options = worker_transport_options(queues)


@app.on_after_configure.connect
def _schedule_from_settings(sender, **kwargs):
    from django.conf import settings

    BEAT_SCHEDULE["check-runs-requeue-stale"]["schedule"] = float(settings.INGESTION_SWEEP_SECONDS)


app.autodiscover_tasks()
