import os
import sys
import time
import uuid

import pytest
from django.conf import settings

from config.celery import (
    BEAT_SCHEDULE,
    TASK_WORKLOADS,
    WORKLOADS,
    _worker_queues,
    app,
    conf_set,
    queues,
    route_task,
)
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


OUR_APPS = ("marketplace", "contributors", "licensing", "payouts", "web")


def test_every_task_of_our_apps_is_routed_deliberately():
    """A new task must be given a workload in config/celery.py (TASK_WORKLOADS); one that is
    not would silently share the default queue with whatever runs there."""
    app.loader.import_default_modules()
    ours = {name for name in app.tasks if name.split(".")[0] in OUR_APPS}
    assert ours, "no task of ours registered"
    assert ours - set(TASK_WORKLOADS) == set(), "tasks without a route in config/celery.py"
    assert set(TASK_WORKLOADS) - ours == set(), "routes of tasks that do not exist"
    assert set(TASK_WORKLOADS.values()) == set(WORKLOADS)


def test_each_workload_has_its_own_queue_named_after_the_default_one(settings):
    settings.INGESTION_QUEUE = ""
    default = app.conf.task_default_queue
    expected = {
        "marketplace.tasks.check_run_execute": f"{default}.ingestion",
        "marketplace.tasks.stripe_event_process": f"{default}.accounting",
        "payouts.tasks.payout_run_execute": f"{default}.accounting",
        "payouts.tasks.reconcile": f"{default}.accounting",
        "marketplace.events.tasks.event_delivery_attempt": f"{default}.outbound",
        "contributors.tasks.contributor_invite": f"{default}.outbound",
        "marketplace.tasks.celery_heartbeat": default,
        "marketplace.tasks.submission_process_submitted": default,
    }
    for name, queue in expected.items():
        assert route_task(name, (), {}, {}) == {"queue": queue}, name
        # What a sender actually does: the message goes to that queue.
        assert app.amqp.router.route({}, name)["queue"].name == queue, name
    assert route_task("celery.chord_unlock", (), {}, {}) is None  # not ours: default
    assert len(set(queues().values())) == len(WORKLOADS)
    settings.INGESTION_QUEUE = "big-archives"
    assert route_task("marketplace.tasks.check_run_execute", (), {}, {}) == {
        "queue": "big-archives"
    }


@pytest.mark.parametrize(
    "requested, ingestion_timeout",
    [(None, True), ("{default}.ingestion", True), ("{default}.accounting", False)],
)
def test_a_worker_consumes_its_queues_with_their_visibility_timeout(
    settings, requested, ingestion_timeout
):
    """`celery worker` without -Q consumes every queue; with -Q, the ones named."""
    default = app.conf.task_default_queue
    saved = app.conf.task_queues, app.conf.broker_transport_options
    try:
        options = {"queues": requested.format(default=default)} if requested else {}
        _worker_queues(options=options)
        if requested is None:
            assert {q.name for q in app.conf.task_queues} == set(queues().values())
        timeout = app.conf.broker_transport_options["visibility_timeout"]
        expected = settings.INGESTION_VISIBILITY_TIMEOUT if ingestion_timeout else None
        assert timeout == (expected or settings.CELERY_VISIBILITY_TIMEOUT)
    finally:
        conf_set(task_queues=saved[0], broker_transport_options=saved[1])
