"""Reachability of every dependency, for /healthz. Each check is bounded by a short timeout."""

import logging
import time

import redis
import requests
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from marketplace.storage import bucket, s3_client

# Written by the beat-scheduled heartbeat task (marketplace.tasks.celery_heartbeat).
HEARTBEAT_KEY = "celery:heartbeat"


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


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


def _stripe():
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    response = requests.get(
        f"{settings.STRIPE_API_BASE.rstrip('/')}/v1/customers",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=timeout,
    )
    if response.status_code == 401:
        raise RuntimeError("API key rejected")
    if response.status_code >= 500:
        raise RuntimeError(f"HTTP {response.status_code}")


logger = logging.getLogger(__name__)

CHECKS = {"database": _database, "redis": _redis, "storage": _storage, "stripe": _stripe}


def health_report() -> tuple[bool, dict]:
    """Run every check; returns (all_up, {name: {"ok": bool, "ms": int, "error"?: str}})."""
    results = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "down", reported by name
            # The public answer names the failure class only; hosts and credentials in the
            # message go to the log, not to whoever can reach /healthz.
            logger.warning("health check %s failed: %s", name, exc)
            results[name] = {"ok": False, "error": type(exc).__name__}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = int((time.monotonic() - started) * 1000)
    return all(r["ok"] for r in results.values()), results


def celery_last_heartbeat() -> str | None:
    """When a worker last ran the beat-scheduled heartbeat (informational: a stopped worker
    does not make the web tier unhealthy)."""
    try:
        return cache.get(HEARTBEAT_KEY)
    except Exception:  # noqa: BLE001 - Redis down is already reported by its own check
        return None
