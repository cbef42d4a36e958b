"""Shared benchmark harness: a throw-away stack that runs like production.

`Stack` (a context manager) drops and recreates the `datacollective_bench` database, migrates it,
starts moto (S3) on a free port, bootstraps the bucket and starts gunicorn with the production
command line (sync workers, `config.wsgi:application`, settings `config.settings.base`,
DEBUG off) on another free port. Throttles are raised so they never cap a measurement, Redis uses
its own DB. Everything is stopped on exit, also on errors and on SIGTERM/SIGINT.

`Stack.django()` configures Django in the benchmark process itself against the same database and
stores, so scripts can call the service layer (e.g. `marketplace.services.identity`).

`load(...)` is the load generator: threads, one persistent HTTP/1.1 connection each (reopened
only when the server closes it), fixed duration after a warm-up; it reports rps and latency
percentiles and counts every non-200 answer as an error."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devtools.processes import Process, free_port, start, stop_all, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

DB_NAME = os.environ.get("BENCH_DB_NAME", "datacollective_bench")
PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
BUCKET = "datacollective-bench"
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "2"))


def log(msg: str) -> None:
    """Progress goes to stderr; stdout carries only the `bench ...` result lines."""
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def bench_party(*, username: str, org_name: str, uploads: bool = False):
    """A new organisation, its owner and the owner's key (an `IssuedKey`: `.secret`, `.key`), built through the
    identity services (call after django.setup()). With `uploads`, the owner asks for upload
    access and the bench staff user ("bench-staff", made once) approves it before the key is
    created, so the key can upload."""
    from marketplace.actors import actor_for_member
    from marketplace.models import User
    from marketplace.services.identity import (
        api_key_create,
        organization_create,
        organization_decide_upload_access,
        organization_request_upload_access,
        user_create,
    )

    owner = user_create(username=username, email=f"{username}@bench.example")
    org = organization_create(name=org_name, owner=owner)
    if uploads:
        staff = User.objects.filter(username="bench-staff").first() or user_create(
            username="bench-staff", is_staff=True
        )
        organization_request_upload_access(actor=actor_for_member(user=owner, organization=org))
        org = organization_decide_upload_access(organization=org, approve=True, actor=staff)
    return api_key_create(actor=actor_for_member(user=owner, organization=org), name="bench")


def pg_connect(dbname: str = DB_NAME, autocommit: bool = True):
    import psycopg

    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, autocommit=autocommit
    )


class Stack:
    def __init__(self, name: str):
        self.name = name
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.moto_port = free_port()
        self.web_port = free_port()
        self.children: list[Process] = []
        self.database_url = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{DB_NAME}"
        self.env = self._env()
        self._old_handlers: dict[int, object] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MDC_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.base",
            DJANGO_DEBUG="0",
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=self.database_url,
            REDIS_URL=REDIS_URL,
            CACHE_URL=REDIS_URL,
            CELERY_BROKER_URL=REDIS_URL,
            CELERY_RESULT_BACKEND=REDIS_URL,
            AWS_S3_ENDPOINT_URL=self.s3_endpoint,
            AWS_STORAGE_BUCKET_NAME=BUCKET,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_S3_REGION_NAME="us-east-1",
            API_THROTTLE_ANON="1000000/min",
            API_THROTTLE_KEY="1000000/min",
            # the costly endpoints' scoped budgets (marketplace/throttling.py), per caller and IP
            **{
                f"API_THROTTLE_{scope}{suffix}": "1000000/min"
                for scope in (
                    "UPLOAD_START",
                    "UPLOAD_PARTS",
                    "DOWNLOADS",
                    "ORDERS",
                    "CERTIFICATE_VERIFY",
                    "ACCESS_REQUESTS",
                )
                for suffix in ("", "_IP")
            },
            STRIPE_API_BASE="http://127.0.0.1:9",  # never called by the benchmarks
            PUBLIC_BASE_URL=self.base_url,
            STORAGE_CORS_ORIGINS=self.base_url,
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        return env

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._old_handlers[signum] = signal.signal(signum, self._on_signal)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop()
        if exc_type is None:  # logs are kept for a failed run
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            log(f"logs kept in {self.tmp}")

    def _on_signal(self, signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def _start(self) -> None:
        t0 = time.monotonic()
        self._recreate_database()
        self._flush_redis()
        self.manage("migrate", "--noinput")
        moto = self.spawn(
            "moto", [PY, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.moto_port)]
        )
        wait_for_port(self.moto_port, proc=moto)
        self.manage("bootstrap_storage")
        web = self.spawn(
            "web",
            [
                PY,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                str(WEB_WORKERS),
                "--timeout",
                "75",
                "--access-logfile",
                "-",
            ],
        )
        wait_for_port(self.web_port, proc=web, timeout=60)
        self.wait_http("/api/ping")
        log(
            f"stack up in {time.monotonic() - t0:.1f}s: web {self.base_url} "
            f"({WEB_WORKERS} gunicorn workers), moto {self.s3_endpoint}, db {DB_NAME}, "
            f"logs {self.tmp}"
        )

    def _recreate_database(self) -> None:
        with pg_connect("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        log(f"database {DB_NAME} recreated")

    def _flush_redis(self) -> None:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()

    def spawn(self, name: str, args: list[str]) -> Process:
        proc = start(args, name=name, log=self.tmp / f"{name}.log", cwd=ROOT, env=self.env)
        self.children.append(proc)
        return proc

    def manage(self, *args: str) -> None:
        result = subprocess.run(
            [PY, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if result.returncode != 0:
            sys.stderr.write(result.stdout + result.stderr)
            raise RuntimeError(f"manage.py {' '.join(args)} failed ({result.returncode})")

    def wait_http(self, path: str, timeout=120.0) -> None:
        """Until `path` answers 200. A worker's first request imports and connects: on a busy
        machine it takes seconds, so one attempt may wait up to 30 s."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=30)
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status == 200:
                    return
                last = resp.status
            except OSError as exc:
                last = exc
            time.sleep(0.2)
        raise RuntimeError(f"GET {path} not ready: {last}")

    def stop(self) -> None:
        stop_all(reversed(self.children), timeout=15)
        self.children.clear()
        try:  # throttle counters and the Celery messages nobody consumed
            self._flush_redis()
        except Exception as exc:  # Redis down: nothing to clean
            log(f"could not flush {REDIS_URL}: {exc}")
        self._close_django()
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        self._old_handlers.clear()

    # --- in-process Django ---------------------------------------------------------------------

    def django(self) -> None:
        """Set up Django in this process against the bench database and stores."""
        os.environ.update(self.env)
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        import django

        django.setup()

    def _close_django(self) -> None:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()


# --- load generator ----------------------------------------------------------------------------


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    error_samples: list[str] = field(default_factory=list)
    reconnects: int = 0
    # Every 200 answer, warm-up included (e.g. one download-session row each).
    successes_total: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[index]


def load(
    port: int,
    path: str | Callable[[], str],
    *,
    duration: float = 10.0,
    warmup: float = 2.0,
    concurrency: int = 4,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """`method` `path` (no body) from `concurrency` threads, each on its own keep-alive
    connection, for `warmup` seconds (not recorded) then `duration` seconds (recorded). A
    request counts in the window in which it completes. `path` may be a callable returning the
    next request's path (called once per request, from any thread; e.g. a different search on
    every request)."""
    next_path = path if callable(path) else (lambda: path)
    start = time.monotonic()
    measure_from = start + warmup
    stop_at = measure_from + duration
    lock = threading.Lock()
    latencies: list[float] = []
    counters = {"requests": 0, "errors": 0, "reconnects": 0, "sent": 0}
    samples: list[str] = []
    request_headers = {"Accept": "application/json", **(headers or {})}
    if method != "GET":
        request_headers["Content-Length"] = "0"

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local_lat: list[float] = []
        ok = err = reconnects = sent = 0
        local_samples: list[str] = []
        while True:
            t0 = time.monotonic()
            if t0 >= stop_at:
                break
            try:
                conn.request(method, next_path(), headers=request_headers)
                resp = conn.getresponse()
                body = resp.read()
                status = resp.status
                if resp.will_close:
                    conn.close()  # reopened by the next request
                    reconnects += 1
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                status, body = None, repr(exc).encode()
            if status == 200:
                sent += 1
            t1 = time.monotonic()
            if t1 < measure_from:
                continue
            if status == 200:
                ok += 1
                local_lat.append((t1 - t0) * 1000)
            else:
                err += 1
                if len(local_samples) < 3:
                    local_samples.append(f"{status}: {body[:200]!r}")
        conn.close()
        with lock:
            latencies.extend(local_lat)
            counters["requests"] += ok
            counters["errors"] += err
            counters["reconnects"] += reconnects
            counters["sent"] += sent
            samples.extend(local_samples)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    measured = max(time.monotonic(), stop_at) - measure_from
    return LoadResult(
        requests=counters["requests"],
        seconds=measured,
        latencies_ms=latencies,
        errors=counters["errors"],
        error_samples=samples[:5],
        reconnects=counters["reconnects"],
        successes_total=counters["sent"],
    )


def run_per_size(script: str, env_var: str, sizes: list[int]) -> int:
    """Run `script` once per size, each in a fresh interpreter with `env_var` set to the size
    (its own database, its own peak RSS); stdout and stderr pass through. The worst exit code."""
    worst = 0
    for size in sizes:
        log(f"{Path(script).name}: {env_var}={size}")
        code = subprocess.run(
            [PY, script], cwd=ROOT, env={**os.environ, env_var: str(size)}, check=False
        ).returncode
        worst = max(worst, code)
    return worst


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM), in MB."""
    with open("/proc/self/status") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    return kb / 1024


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0), so `peak_rss_mb()` then
    reports the peak of what runs next. False if the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    return kb / 1024
