"""The Redis client the observability code shares (task metrics, the Stripe request ids, the
latest ledger verification): one connection pool per process and URL, not a connection per call.
redis-py's pool notices a fork and opens new connections in the child (Celery's prefork pool)."""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def redis_client() -> redis.Redis:
    return _client(settings.REDIS_URL)
