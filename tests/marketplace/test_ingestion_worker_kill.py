"""A Celery worker killed with SIGKILL in the middle of a check run: after a restart the run
completes once, with no duplicate results (late acknowledgement + idempotent tasks)."""

import os
import random
import signal
import sys
import tarfile
import time
import uuid
import zlib

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from config.celery import app
from devtools.processes import PIPE, Process, start, stop
from marketplace.models import CheckRun, Submission
from tests.catalogue_helpers import DATASHEET, upload_bytes
from tests.factories import make_key
from tests.servers import ROOT

MiB = 1024 * 1024


def big_tsv_archive(mib: int) -> bytes:
    """A large, valid TSV (slow enough to inspect that the kill lands mid-run), tarred and
    gzipped block by block so the uncompressed payload is never held in memory."""
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "delta", "kappa", "sigma", "omega", "zeta", "theta"]
    header = b"id\ttext\tscore\n"
    block = "".join(
        f"{i}\t{' '.join(rng.choice(words) for _ in range(12))}\t{rng.random():.6f}\n"
        for i in range(20_000)
    ).encode()
    repeats = max(1, (mib * MiB) // len(block))
    size = len(header) + repeats * len(block)
    info = tarfile.TarInfo("big.tsv")
    info.size = size
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    out = [compressor.compress(info.tobuf(format=tarfile.PAX_FORMAT)), compressor.compress(header)]
    out.extend(compressor.compress(block) for _ in range(repeats))
    padding = (-size) % tarfile.BLOCKSIZE
    out.append(compressor.compress(b"\0" * (padding + 2 * tarfile.BLOCKSIZE)))
    out.append(compressor.flush())
    return b"".join(out)


def start_worker(env: dict, *, concurrency: int = 1) -> Process:
    """A real prefork worker on the test's queues (with two pool processes a periodic task can
    run beside a long inspection, as in production)."""
    return start(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
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


class TimedOut(AssertionError):
    pass


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimedOut(f"timed out waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_sigkill_mid_run_then_restart_completes_the_run_once():
    db = settings.DATABASES["default"]
    # A queue of its own: no other consumer of the test broker can take these messages.
    queue = f"kill-test-{uuid.uuid4().hex[:8]}"
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        AWS_S3_ENDPOINT_URL=settings.AWS_S3_ENDPOINT_URL,
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_TASK_DEFAULT_QUEUE=queue,
        # Short, so the restarted worker restores the dead worker's unacknowledged message now
        # rather than after the production timeout (which must exceed the longest task).
        CELERY_VISIBILITY_TIMEOUT="2",
        INGESTION_VISIBILITY_TIMEOUT="2",
    )
    secret, _ = make_key(uploads=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    sid = client.post("/api/submissions", {"name": "Big"}, format="json").json()["submission"]["id"]
    client.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
    upload_bytes(client, sid, big_tsv_archive(480), part_size=32 * MiB)

    app.conf.CELERY_TASK_ALWAYS_EAGER = False
    routes = app.conf.task_routes
    app.conf.update(task_routes={"marketplace.tasks.*": {"queue": queue}})
    worker = start_worker(env)
    try:
        response = client.post(f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json")
        assert response.status_code == 200
        run = wait_for(
            lambda: CheckRun.objects.filter(submission__public_id=sid, status="running").first(),
            90,
            "the worker to start the check run",
        )
        time.sleep(0.1)
        first_log = stop(worker, sig=signal.SIGKILL, timeout=30)
        run.refresh_from_db()
        assert run.status == CheckRun.Status.RUNNING and run.results.count() == 0, (
            "the inspection finished before the kill; the archive must be bigger\n"
            + first_log[-2000:]
        )
        assert run.attempts == 1

        # Restarted once the visibility timeout (2 s) has passed: the new worker's first poll
        # restores the dead one's message (kombu otherwise looks again only every ~100 s).
        time.sleep(3)
        worker = start_worker(env)
        wait_for(
            lambda: CheckRun.objects.filter(pk=run.pk, status__in=CheckRun.FINAL).exists(),
            120,
            "the restarted worker to finish the run",
        )
        wait_for(
            lambda: Submission.objects.get(public_id=sid).status != Submission.Status.CHECKING,
            30,
            "the submission to leave `checking`",
        )
    except TimedOut as exc:
        raise AssertionError(
            f"{exc}\n--- worker log ---\n{stop(worker, timeout=30)[-4000:]}"
        ) from exc
    finally:
        app.conf.CELERY_TASK_ALWAYS_EAGER = True
        app.conf.update(task_routes=routes)
        log = stop(worker, timeout=30)
    run.refresh_from_db()
    assert run.status in (CheckRun.Status.PASSED, CheckRun.Status.WARNED), log[-3000:]
    assert run.attempts == 2
    names = list(run.results.values_list("name", flat=True))
    assert len(names) == len(set(names)), names
    assert "integrity" in names
    assert CheckRun.objects.filter(submission__public_id=sid).count() == 1
    assert Submission.objects.get(public_id=sid).status == Submission.Status.IN_REVIEW
