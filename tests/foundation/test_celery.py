import os
import sys
import time
import uuid

import pytest
from django.conf import settings

from config.celery import BEAT_SCHEDULE, app
from devtools.processes import PIPE, start, stop
from tests.servers import ROOT


def test_reliability_settings():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_url.startswith("redis://")
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert visibility > conf.task_time_limit > conf.task_soft_time_limit
    assert conf.broker_transport_options["unacked_restore_limit"] > 0
    assert conf.task_serializer == "json"


def test_periodic_tasks_are_declared_in_one_place_and_exist():
    app.loader.import_default_modules()
    assert app.conf.beat_schedule == BEAT_SCHEDULE
    for entry in BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_process_runs_a_task():
    """A Celery worker subprocess on Redis (its own queue) executes a task sent by us."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    db = settings.DATABASES["default"]
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    )
    worker = start(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--queues",
            queue,
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        name="celery worker",
        log=PIPE,
        cwd=ROOT,
        env=env,
    )
    try:
        from marketplace.tasks import celery_heartbeat

        # Settings are read through the CELERY_ namespace, so the override uses that key.
        app.conf.CELERY_TASK_ALWAYS_EAGER = False
        try:
            result = celery_heartbeat.apply_async(queue=queue)
            value = result.get(timeout=60)
        finally:
            app.conf.CELERY_TASK_ALWAYS_EAGER = True
        assert result.status == "SUCCESS"
        assert value.startswith(str(time.gmtime().tm_year))
    finally:
        out = stop(worker, timeout=20)
    assert "celery_heartbeat" in out
