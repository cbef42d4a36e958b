"""Queues per workload: the workers `make run` starts (one per queue, devtools/run.py) keep a
payout running while every ingestion pool process is busy with a long inspection.

The inspections are long because storage is slow: the workers reach moto through a proxy that
trickles the archive's bytes (a few hundred a second: a megabyte would take most of an hour)
until the test lets them through. Nothing of ours is mocked; the order of events is read from
the states of the rows (and their timestamps compared with each other), never from durations."""

import os
import socket
import threading
import time
import uuid
from urllib.parse import urlparse

import pytest
import redis

from config.celery import INGESTION, app, conf_set, workload_queues
from devtools.processes import PIPE, start, stop
from devtools.run import WORKER_CONCURRENCY, worker_commands
from marketplace.models import CheckRun, FileUpload, Submission
from payouts.models import PayoutLine
from payouts.services.runs import payout_run_create
from tests.catalogue_helpers import DATASHEET, api, make_archive, publish_dataset, upload_bytes
from tests.marketplace.test_ingestion_worker_kill import TimedOut, wait_for
from tests.payouts.conftest import payee_of, set_shares
from tests.payouts.test_payout_runs import enable_payouts, sell_and_release
from tests.servers import ROOT

MiB = 1024 * 1024


class TricklingProxy:
    """A TCP proxy in front of moto. Answers to a GET whose request names one of `markers` come
    back `trickle` bytes every `interval` seconds (enough to keep the reader's socket timeout
    away) until `release()`; everything else passes at full speed."""

    def __init__(self, upstream_port: int, *, trickle: int = 256, interval: float = 0.5):
        self.upstream_port = upstream_port
        self.trickle, self.interval = trickle, interval
        self.markers: set[bytes] = set()
        self.released = threading.Event()
        self.slowed = 0  # connections whose answer is being trickled
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._sockets = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def release(self) -> None:
        self.released.set()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                return
            self._sockets += [conn, upstream]
            slow = threading.Event()
            threading.Thread(
                target=self._requests, args=(conn, upstream, slow), daemon=True
            ).start()
            threading.Thread(target=self._answers, args=(upstream, conn, slow), daemon=True).start()

    def _requests(self, src, dst, slow):
        try:
            while chunk := src.recv(65536):
                if chunk.startswith(b"GET ") and any(m in chunk for m in self.markers):
                    if not slow.is_set():
                        with self._lock:
                            self.slowed += 1
                    slow.set()
                dst.sendall(chunk)
        except OSError:
            return

    def _answers(self, src, dst, slow):
        try:
            while chunk := src.recv(65536):
                while chunk and slow.is_set() and not self.released.is_set():
                    dst.sendall(chunk[: self.trickle])
                    chunk = chunk[self.trickle :]
                    time.sleep(self.interval)
                dst.sendall(chunk)
        except OSError:
            return

    def close(self):
        self.release()
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass


def test_make_run_starts_one_worker_per_queue_and_every_task_has_one():
    commands = dict(worker_commands({"CELERY_TASK_DEFAULT_QUEUE": "dc"}))
    consumed = {args[args.index("--queues") + 1] for args in commands.values()}
    assert consumed == set(workload_queues("dc").values())
    assert consumed == {"dc", "dc.ingestion", "dc.accounting", "dc.outbound"}
    assert set(commands) == {f"worker-{w}" for w in WORKER_CONCURRENCY}
    # Distinct node names: four workers on one host.
    names = {args[args.index("--hostname") + 1] for args in commands.values()}
    assert len(names) == len(commands)


def start_make_run_workers(env: dict) -> dict:
    return {
        name: start(args, name=name, log=PIPE, cwd=ROOT, env=env)
        for name, args in worker_commands(env)
    }


@pytest.mark.timeout(600)
@pytest.mark.django_db(transaction=True)
def test_a_long_ingestion_does_not_delay_a_payout(provider, settings):
    # A payout run ready to execute: the provider's organisation sold, the refund window passed.
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 100}
    _, version = publish_dataset(
        provider.secret, name="Queue isolation", isPaid=True, basePriceCents=1000
    )
    table = set_shares(version, provider.user, [("org", 1), ("q@example.com", 1)], basis="weight")
    for who in ("org", "q@example.com"):
        enable_payouts(payee_of(table, who))
    sell_and_release(version, refs=["queues-1", "queues-2"], gross_cents=3000)
    run = payout_run_create(currency="usd")
    assert run.line_count == 2

    # As many uploaded archives waiting to be checked as the ingestion worker has processes.
    busy = WORKER_CONCURRENCY[INGESTION]
    client = api(provider.secret)
    sids = []
    for n in range(busy):
        sid = client.post("/api/submissions", {"name": f"Long {n}"}, format="json")
        sid = sid.json()["submission"]["id"]
        client.patch(f"/api/submissions/{sid}", DATASHEET, format="json")
        upload_bytes(client, sid, make_archive(MiB, seed=f"long {n}".encode()))
        sids.append(sid)
    proxy = TricklingProxy(urlparse(settings.AWS_S3_ENDPOINT_URL).port)
    proxy.markers = {
        u.public_id.encode() for u in FileUpload.objects.filter(submission__public_id__in=sids)
    }
    assert len(proxy.markers) == busy

    queue = f"queues-{uuid.uuid4().hex[:8]}"  # no other consumer of the test broker
    db = settings.DATABASES["default"]
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        AWS_S3_ENDPOINT_URL=proxy.url,
        STRIPE_API_BASE=settings.STRIPE_API_BASE,
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_TASK_DEFAULT_QUEUE=queue,
    )
    workers = start_make_run_workers(env)
    default_queue = app.conf.task_default_queue
    conf_set(task_default_queue=queue)  # this process sends to the workers' queues
    app.conf.CELERY_TASK_ALWAYS_EAGER = False
    try:
        for sid in sids:
            response = client.post(
                f"/api/submissions/{sid}", {"agreeToSubmit": True}, format="json"
            )
            assert response.status_code == 200, response.json()
        runs = CheckRun.objects.filter(submission__public_id__in=sids)
        wait_for(
            lambda: runs.filter(status=CheckRun.Status.RUNNING).count() == busy
            and proxy.slowed == busy,
            120,
            "every ingestion process to be reading a slow archive",
        )

        # The ingestion worker keeps its unacknowledged messages in a set of its own, under its
        # own visibility timeout (config/celery.py): no other worker restores a running pass.
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        assert broker.hlen("unacked_ingestion") >= busy

        # Enqueued now, while every ingestion process is busy: it runs on the accounting worker.
        from payouts.tasks import payout_run_execute

        payout_run_execute.delay(run.pk)
        lines = PayoutLine.objects.filter(run=run)
        wait_for(
            lambda: not lines.filter(status__in=["pending", "sending"]).exists(),
            120,
            "the payout run to be executed",
        )
        # ... and it finished while the inspections are still reading their archives.
        assert runs.filter(status=CheckRun.Status.RUNNING).count() == busy
        assert not runs.filter(results__isnull=False).exists()
        assert not proxy.released.is_set()
        assert set(lines.values_list("status", flat=True)) <= {"sent", "paid"}

        proxy.release()
        wait_for(
            lambda: runs.filter(status__in=CheckRun.FINAL).count() == busy,
            120,
            "the inspections to finish once storage is fast again",
        )
        wait_for(
            lambda: not Submission.objects.filter(
                public_id__in=sids, status=Submission.Status.CHECKING
            ).exists(),
            60,
            "the submissions to leave `checking`",
        )
    except TimedOut as exc:
        logs = "\n".join(f"--- {n} ---\n{stop(w, timeout=30)[-2500:]}" for n, w in workers.items())
        raise AssertionError(f"{exc}\n{logs}") from exc
    finally:
        app.conf.CELERY_TASK_ALWAYS_EAGER = True
        conf_set(task_default_queue=default_queue)
        logs = {name: stop(worker, timeout=30) for name, worker in workers.items()}
        proxy.close()

    assert set(runs.values_list("status", flat=True)) <= {"passed", "warned"}, logs
    finished_at = min(runs.values_list("finished_at", flat=True))
    assert max(lines.values_list("sent_at", flat=True)) < finished_at
    # Each task ran on the worker of its queue (the log line of a received task).
    payout, check = (
        "Task payouts.tasks.payout_run_execute[",
        "Task marketplace.tasks.check_run_execute[",
    )
    assert payout in logs["worker-accounting"] and check in logs["worker-ingestion"]
    assert payout not in logs["worker-ingestion"] and check not in logs["worker-default"]
