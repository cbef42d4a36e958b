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

# --- Queues per workload (issue 11 D5, issue 14) ---------------------------------------------
# Every task of ours runs on the queue of its workload, so one kind of work never waits behind
# another: a multi-hour ingestion pass does not delay a payout, a slow SMTP server or webhook
# receiver does not delay a ledger posting. `make run` (devtools/run.py) and the deployment start
# one worker per queue. The queues are named after CELERY_TASK_DEFAULT_QUEUE:
#   <queue>            default: short chores (submission steps, expiries, heartbeats)
#   <queue>.ingestion  ingestion checks: long, I/O bound; their own time limit and visibility
#                      timeout, so a worker killed mid-task has its ordinary tasks redelivered
#                      after CELERY_VISIBILITY_TIMEOUT, not after the ingestion limit (check runs
#                      do not wait for that either: the heartbeat sweep requeues them in minutes)
#   <queue>.accounting ledger postings (Stripe events: sales, refunds, disputes, fees), holds,
#                      payout runs, reconciliation, statement roots
#   <queue>.outbound   e-mails and webhook deliveries to licensees (other people's servers)
DEFAULT, INGESTION, ACCOUNTING, OUTBOUND = "default", "ingestion", "accounting", "outbound"
WORKLOADS = (DEFAULT, INGESTION, ACCOUNTING, OUTBOUND)

# Every task of our apps, deliberately (tests/foundation/test_celery.py fails on one missing).
TASK_WORKLOADS = {
    "marketplace.tasks.check_run_execute": INGESTION,
    # Stripe events post sales, refunds, disputes and fees to the ledger (handlers of each app).
    "marketplace.tasks.stripe_event_process": ACCOUNTING,
    "marketplace.tasks.stripe_events_process_pending": ACCOUNTING,
    "licensing.tasks.order_duplicate_refund_task": ACCOUNTING,
    "payouts.tasks.holds_release": ACCOUNTING,
    "payouts.tasks.payout_runs_create": ACCOUNTING,
    "payouts.tasks.payout_run_execute": ACCOUNTING,
    "payouts.tasks.payout_runs_execute_open": ACCOUNTING,
    "payouts.tasks.reconcile": ACCOUNTING,
    "payouts.tasks.reconcile_repair": ACCOUNTING,
    "payouts.tasks.statement_root_publish_previous": ACCOUNTING,
    "marketplace.events.tasks.event_delivery_attempt": OUTBOUND,
    "marketplace.events.tasks.event_deliveries_send_due": OUTBOUND,
    "marketplace.tasks.organization_invitation_send": OUTBOUND,
    "marketplace.tasks.upload_access_decision_notify": OUTBOUND,
    "licensing.tasks.access_request_created_notify": OUTBOUND,
    "licensing.tasks.access_request_decision_notify": OUTBOUND,
    "contributors.tasks.contributor_invite": OUTBOUND,
    "marketplace.tasks.celery_heartbeat": DEFAULT,
    "marketplace.tasks.submission_process_submitted": DEFAULT,
    "marketplace.tasks.submission_checks_conclude_task": DEFAULT,
    "marketplace.tasks.submission_files_purge": DEFAULT,
    "marketplace.tasks.file_uploads_expire": DEFAULT,
    "marketplace.tasks.check_runs_requeue_stale": DEFAULT,
    "licensing.tasks.access_requests_mark_stale": DEFAULT,
    "licensing.tasks.grants_mark_expired": DEFAULT,
}
INGESTION_TASKS = frozenset(n for n, w in TASK_WORKLOADS.items() if w == INGESTION)


def workload_queues(default_queue: str, ingestion_queue: str = "") -> dict[str, str]:
    """The queue of each workload, from the default queue's name (and INGESTION_QUEUE when set).
    Pure, so devtools/run.py can name the queues of its workers without Django settings."""
    return {
        DEFAULT: default_queue,
        INGESTION: ingestion_queue or f"{default_queue}.ingestion",
        ACCOUNTING: f"{default_queue}.accounting",
        OUTBOUND: f"{default_queue}.outbound",
    }


def queues() -> dict[str, str]:
    from django.conf import settings

    return workload_queues(app.conf.task_default_queue, settings.INGESTION_QUEUE)


def ingestion_queue() -> str:
    return queues()[INGESTION]


def route_task(name, args, kwargs, options, task=None, **kw):
    workload = TASK_WORKLOADS.get(name)
    if workload is None:  # not one of ours (a library's task): the default queue
        return None
    return {"queue": queues()[workload]}


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


def conf_set(**values) -> None:
    """Set Celery settings at run time. app.conf reads a setting under its Django name
    (CELERY_<NAME>, config_from_object with a namespace) before its plain one, so a value set
    only as `app.conf.<name>` is ignored whenever Django settings define it; both are written."""
    for name, value in values.items():
        setattr(app.conf, name, value)
        setattr(app.conf, f"CELERY_{name.upper()}", value)


@celeryd_init.connect
def _worker_queues(sender=None, conf=None, options=None, **kwargs):
    """A worker started with `-Q` consumes those queues (`make run` starts one per workload);
    one started without consumes every queue (one worker does everything, as in the compose
    file), with the ingestion visibility timeout since it runs ingestion passes too."""
    requested = (options or {}).get("queues")
    if requested:
        consumed = set(requested.split(",") if isinstance(requested, str) else requested)
    else:
        consumed = set(queues().values())
        conf_set(task_queues=[Queue(q, Exchange(q), routing_key=q) for q in sorted(consumed)])
    conf_set(broker_transport_options=worker_transport_options(consumed))


@app.on_after_configure.connect
def _schedule_from_settings(sender, **kwargs):
    from django.conf import settings

    sweep = float(settings.INGESTION_SWEEP_SECONDS)
    BEAT_SCHEDULE["check-runs-requeue-stale"]["schedule"] = sweep
    # Each sweep does the whole job, so one still queued ten intervals later is pointless: it
    # expires (dropped on receipt, never run), and sweeps cannot pile up in the default queue in
    # front of the submission steps while its worker is busy or down.
    BEAT_SCHEDULE["check-runs-requeue-stale"]["options"] = {"expires": sweep * 10}


app.autodiscover_tasks()
