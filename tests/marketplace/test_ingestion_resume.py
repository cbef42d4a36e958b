"""D5: after `kill -9` of the whole worker and a restart, a check run resumes within minutes —
not when the broker's visibility timeout (hours, for ingestion) finally redelivers it. A running
run writes a heartbeat while it reads the archive; the sweep on beat requeues a run whose
heartbeat went stale. Real worker and beat processes, with small settings."""

import os
import signal
import sys
import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from config.celery import INGESTION_TASKS, app, route_task, worker_transport_options
from devtools.processes import PIPE, start, stop
from marketplace.models import CheckRun, Submission
from tests.catalogue_helpers import DATASHEET, upload_bytes
from tests.factories import make_key
from tests.marketplace.test_ingestion_worker_kill import (
    MiB,
    TimedOut,
    big_tsv_archive,
    start_worker,
    wait_for,
)
from tests.servers import ROOT

STALE_SECONDS = 1.5


def test_ingestion_has_its_own_queue_and_visibility_timeout(settings):
    settings.INGESTION_QUEUE = ""
    queue = app.conf.task_default_queue
    for name in INGESTION_TASKS:
        assert route_task(name, (), {}, {}) == {"queue": f"{queue}.ingestion"}
    assert route_task("payouts.tasks.payout_run_execute", (), {}, {}) == {
        "queue": f"{queue}.accounting"
    }

    ordinary = worker_transport_options({queue})
    ingestion = worker_transport_options({f"{queue}.ingestion"})
    both = worker_transport_options({queue, f"{queue}.ingestion"})
    assert ordinary["visibility_timeout"] == settings.CELERY_VISIBILITY_TIMEOUT
    assert ordinary["visibility_timeout"] > app.conf.task_time_limit
    assert ingestion["visibility_timeout"] == settings.INGESTION_VISIBILITY_TIMEOUT
    assert ingestion["visibility_timeout"] > settings.INGESTION_TASK_TIME_LIMIT
    assert ingestion["visibility_timeout"] > ordinary["visibility_timeout"]
    # Separate unacked sets: a short timeout elsewhere never restores a running ingestion pass.
    assert ingestion["unacked_key"] != ordinary.get("unacked_key", "unacked")
    assert both == ingestion
    task = app.tasks["marketplace.tasks.check_run_execute"]
    assert task.time_limit == settings.INGESTION_TASK_TIME_LIMIT


def start_beat(env: dict, schedule_path):
    return start(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(schedule_path),
        ],
        name="celery beat",
        log=PIPE,
        cwd=ROOT,
        env=env,
    )


@pytest.mark.django_db(transaction=True)
def test_killed_worker_check_run_resumes_through_the_heartbeat_sweep(tmp_path):
    db = settings.DATABASES["default"]
    queue = f"resume-test-{uuid.uuid4().hex[:8]}"
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        AWS_S3_ENDPOINT_URL=settings.AWS_S3_ENDPOINT_URL,
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_TASK_DEFAULT_QUEUE=queue,
        # Redelivery by the broker would take an hour: only the heartbeat sweep can resume it.
        CELERY_VISIBILITY_TIMEOUT="3600",
        INGESTION_VISIBILITY_TIMEOUT="3600",
        INGESTION_HEARTBEAT_SECONDS="0.2",
        INGESTION_STALE_SECONDS=str(STALE_SECONDS),
        INGESTION_SWEEP_SECONDS="0.3",
    )
    secret, _ = make_key(uploads=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    sid = client.post("/api/submissions", {"name": "Big"}, format="json").json()["submission"]["id"]
    client.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
    upload_bytes(client, sid, big_tsv_archive(480), part_size=32 * MiB)

    app.conf.CELERY_TASK_ALWAYS_EAGER = False
    routes = app.conf.task_routes
    # This process sends as production routes (ingestion on "<default>.ingestion"), with the
    # test's own default queue so no other consumer of the test broker takes the messages.
    app.conf.update(
        task_routes=(
            {
                **{name: {"queue": f"{queue}.ingestion"} for name in INGESTION_TASKS},
                "marketplace.tasks.*": {"queue": queue},
            },
        )
    )
    worker = start_worker(env, concurrency=2)
    beat = start_beat(env, tmp_path / "beat-schedule")
    try:
        response = client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
        assert response.status_code == 200
        run = wait_for(
            lambda: CheckRun.objects.filter(submission__public_id=sid, status="running").first(),
            90,
            "the worker to start the check run",
        )
        # The live run's heartbeat moves (the sweep judges it by that; the sweep sparing a
        # fresh run and requeueing a stale one is tested without processes in
        # test_ingestion_pipeline). Kill while it is still running, whatever the machine's speed.
        first_beat = run.updated_at
        wait_for(
            lambda: CheckRun.objects.filter(
                pk=run.pk, status="running", updated_at__gt=first_beat
            ).exists(),
            30,
            "the running check run's heartbeat",
        )
        run.refresh_from_db()
        assert run.attempts == 1, "a live run was requeued: its heartbeat did not keep it fresh"
        first_log = stop(worker, sig=signal.SIGKILL, timeout=30)
        run.refresh_from_db()
        assert run.status == CheckRun.Status.RUNNING and run.results.count() == 0, first_log[-2000:]

        worker = start_worker(env, concurrency=2)
        wait_for(
            lambda: CheckRun.objects.filter(pk=run.pk, status__in=CheckRun.FINAL).exists(),
            180,
            "the sweep to requeue the run and the restarted worker to finish it",
        )
        wait_for(
            lambda: Submission.objects.get(public_id=sid).status != Submission.Status.CHECKING,
            30,
            "the submission to leave `checking`",
        )
    except TimedOut as exc:
        raise AssertionError(
            f"{exc}\n--- worker ---\n{stop(worker, timeout=30)[-3000:]}"
            f"\n--- beat ---\n{stop(beat, timeout=30)[-2000:]}"
        ) from exc
    finally:
        app.conf.CELERY_TASK_ALWAYS_EAGER = True
        app.conf.update(task_routes=routes)
        log = stop(worker, timeout=30)
        beat_log = stop(beat, timeout=30)
    run.refresh_from_db()
    assert run.status in (CheckRun.Status.PASSED, CheckRun.Status.WARNED), log[-3000:]
    # Resumed by a new attempt (a live duplicate on a loaded machine is harmless: the results
    # are written once, by the finishing transaction).
    assert run.attempts >= 2, log[-3000:]
    names = list(run.results.values_list("name", flat=True))
    assert len(names) == len(set(names)), names
    assert Submission.objects.get(public_id=sid).status == Submission.Status.IN_REVIEW
    assert "check_runs_requeue_stale" in beat_log
