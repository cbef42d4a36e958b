"""Health endpoints: `/livez` (liveness), `/readyz` (readiness) and `/healthz` (operators).

`/livez` answers 200 as long as the process serves requests: it calls nothing, so a database or
Redis outage never makes Kubernetes restart every web pod at once (restarts cure a wedged process,
not a down dependency). `/readyz` runs the dependency checks below and answers 503 naming the
components that failed (names only: hosts and errors go to the log), so the pod leaves the
Service's endpoints until they are back. `/healthz` is the same report for load balancers and
operators, with the detail (timings, error classes, Celery heartbeat) for staff only.

The checks behind `/readyz` and `/healthz` call no third party (never Stripe: a payment outage
must not take the web tier out of rotation). They probe PostgreSQL, Redis and the object store
in parallel, each bounded by HEALTH_CHECK_TIMEOUT_SECONDS, and answer within that budget even
when a dependency is frozen (an unfinished probe counts as down). The answer is cached per
process for HEALTH_CACHE_SECONDS, so a flood of probes costs the dependencies one probe each
every few seconds. On `/healthz` anonymous callers learn only up/down; staff see which component
failed and why."""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from marketplace.storage import bucket, s3_client

logger = logging.getLogger(__name__)

# Written by the beat-scheduled heartbeat task (marketplace.tasks.celery_heartbeat).
HEARTBEAT_KEY = "celery:heartbeat"


def _database():
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()  # this probe's thread owns the connection


def _redis():
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        client.ping()
    finally:
        client.close()


def _storage():
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    s3_client(connect_timeout=timeout, read_timeout=timeout, retries=1).head_bucket(Bucket=bucket())


CHECKS = {"database": _database, "redis": _redis, "storage": _storage}

# One pool for the probes of this process: a frozen probe keeps its thread until its own
# timeout ends, and never holds up the answer.
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="healthz")
_cache: dict[tuple, tuple[float, bool, dict]] = {}
_lock = threading.Lock()


def _config_key() -> tuple:
    db = settings.DATABASES["default"]
    return (
        db.get("HOST"),
        db.get("PORT"),
        db.get("NAME"),
        settings.CELERY_BROKER_URL,
        settings.AWS_S3_ENDPOINT_URL,
        settings.AWS_STORAGE_BUCKET_NAME,
    )


def _timed(check) -> dict:
    started = time.monotonic()
    check()
    return {"ok": True, "ms": int((time.monotonic() - started) * 1000)}


def health_report() -> tuple[bool, dict]:
    """Every check, in parallel, within HEALTH_CHECK_TIMEOUT_SECONDS (plus a little for the
    threads); returns (all_up, {name: {"ok": bool, "ms"?: int, "error"?: str}})."""
    budget = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    deadline = time.monotonic() + budget
    futures = {name: _pool.submit(_timed, check) for name, check in CHECKS.items()}
    results = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            logger.warning("health check %s gave no answer within %ss", name, budget)
            results[name] = {"ok": False, "error": "Timeout"}
        except Exception as exc:  # noqa: BLE001 - any failure means "down", reported by name
            # Hosts and credentials in the message go to the log, not to the answer.
            logger.warning("health check %s failed: %s", name, exc)
            results[name] = {"ok": False, "error": type(exc).__name__}
    return all(r["ok"] for r in results.values()), results


def health_report_cached() -> tuple[bool, dict]:
    """`health_report`, reused for HEALTH_CACHE_SECONDS by this process (per configuration)."""
    key = _config_key()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < settings.HEALTH_CACHE_SECONDS:
        return hit[1], hit[2]
    ok, checks = health_report()
    with _lock:
        _cache.clear()
        _cache[key] = (time.monotonic(), ok, checks)
    return ok, checks


def health_cache_clear() -> None:
    with _lock:
        _cache.clear()


def celery_last_heartbeat() -> str | None:
    """When a worker last ran the beat-scheduled heartbeat (informational: a stopped worker
    does not make the web tier unhealthy)."""
    try:
        return cache.get(HEARTBEAT_KEY)
    except Exception:  # noqa: BLE001 - Redis down is already reported by its own check
        return None


@require_GET
def livez(request):
    """Liveness: the process is up and serves requests. No database, cache or network call."""
    response = JsonResponse({"status": "ok"})
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def readyz(request):
    """Readiness: database, Redis and storage (cached per process for HEALTH_CACHE_SECONDS;
    Stripe is never called). A 503 names what failed, without hosts or error messages."""
    ok, checks = health_report_cached()
    down = [name for name, result in checks.items() if not result["ok"]]
    body: dict = {"status": "ok" if ok else "unavailable", "down": down}
    if down:
        body["message"] = f"Not ready: {', '.join(down)} unavailable."
        body["error"] = "dependency_down"
    response = JsonResponse(body, status=200 if ok else 503)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def healthz(request):
    ok, checks = health_report_cached()
    down = [name for name, result in checks.items() if not result["ok"]]
    body: dict = {"status": "ok" if ok else "unavailable"}
    staff = getattr(request, "user", None) is not None and request.user.is_staff
    if down:
        body["message"] = (
            f"Unavailable: {', '.join(down)}." if staff else "A dependency is unavailable."
        )
        body["error"] = "dependency_down"
    if staff:
        body["checks"] = checks
        body["down"] = down
        body["celeryLastHeartbeat"] = celery_last_heartbeat() if checks["redis"]["ok"] else None
    response = JsonResponse(body, status=200 if ok else 503)
    response["Cache-Control"] = "no-store"
    return response
