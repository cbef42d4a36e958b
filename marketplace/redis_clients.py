"""The Redis client of this process for the cache's server (CACHES["default"]["LOCATION"]), for
the hot-path work that goes past Django's cache API: throttle budgets (one script call), the
API-key cache read, the part-URL storage probe record. Django's RedisCache builds a client
object for every operation; this one is built once per process and location (redis-py's pool
notices a fork and opens new connections in the child). Short timeouts: callers treat Redis
errors as "not cached" and carry on."""

import functools

import redis
from django.conf import settings


@functools.cache
def _client(location: str) -> redis.Redis:
    return redis.Redis.from_url(location, socket_connect_timeout=1.0, socket_timeout=1.0)


def cache_redis(location: str | None = None) -> redis.Redis:
    return _client(location or settings.CACHES["default"]["LOCATION"])
