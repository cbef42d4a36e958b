"""Request budgets (429 with Retry-After), counted atomically in Redis.

Each budget is a fixed window that opens at the first request of a caller: one Lua script
increments the counter and sets its expiry in the same step, so concurrent requests (any number
of threads, processes or hosts) never let more than the budget through, and the window never
outlives its period. DRF's stock throttles read a list from the cache, append and write it back:
under concurrency they lost updates and let about twice the budget through (dynamic finding 2).

Callers are told apart by their API key (or signed-in user), else by their IP address, read from
`X-Forwarded-For` only as far as `TRUSTED_PROXY_HOPS` proxies vouch for it (DRF `NUM_PROXIES`),
so a client cannot pick a fresh address per request.

Costly endpoints (upload start, part URLs, download sessions, order creation, certificate
verification, access requests) have scoped budgets of their own, per caller and per IP
(`API_THROTTLE_SCOPES`); the routes they cover are listed in `COSTLY_ROUTES` by URL name, so
the views stay free of throttling code.

Every budget of a request (the anonymous or the caller's, and a costly route's two) is taken in
one Redis round trip (`budgets_take`): budgets are counted in order until the first one that
refuses, exactly as separate throttles would, but with one script call instead of one per budget.

If Redis is unreachable the request is let through rather than failing the whole API."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from marketplace.redis_clients import cache_redis

logger = logging.getLogger(__name__)

# For each budget in order, INCR and EXPIRE in one atomic step (ARGV: period ms, limit, per key);
# stops at the first budget over its limit and returns {its 1-based index, its window's remaining
# ms}; {0, 0} when every budget admits the request. (One server: the keys need not share a slot.)
_HIT = """
for i, key in ipairs(KEYS) do
  local period = tonumber(ARGV[2 * i - 1])
  local count = redis.call('INCR', key)
  if count == 1 then
    redis.call('PEXPIRE', key, period)
  end
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, period)
    ttl = period
  end
  if count > tonumber(ARGV[2 * i]) then
    return {i, ttl}
  end
end
return {0, 0}
"""

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# (URL name, method) -> scope of `API_THROTTLE_SCOPES`.
COSTLY_ROUTES: dict[tuple[str, str], str] = {
    ("marketplace:uploads", "POST"): "upload_start",
    ("marketplace:sample-uploads", "POST"): "upload_start",
    ("marketplace:upload-part", "GET"): "upload_parts",
    ("marketplace:sample-upload-part", "GET"): "upload_parts",
    ("marketplace:upload-parts", "GET"): "upload_parts",
    ("marketplace:sample-upload-parts", "GET"): "upload_parts",
    ("licensing:dataset-download", "POST"): "downloads",
    ("licensing:dataset-sample-download", "POST"): "downloads",
    ("licensing:orders", "POST"): "orders",
    ("licensing:certificate-verify", "POST"): "certificate_verify",
    ("licensing:dataset-access-requests", "POST"): "access_requests",
    ("marketplace:takedown-notices", "POST"): "takedown_notices",
}


def parse_rate(rate: str) -> tuple[int, int]:
    """`"1200/min"` -> (1200, 60): requests per period in seconds (DRF's notation)."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[0]]


def budgets_take(budgets: list[tuple[str, int, int]]) -> tuple[bool, float]:
    """Count one request against each `(key, limit, period seconds)` in order, up to the first
    that refuses; (allowed, seconds until that budget's window reopens). One Redis round trip."""
    if not budgets:
        return True, 0.0
    keys, args = [], []
    for key, limit, period_seconds in budgets:
        keys.append(f"throttle:{key}")
        args += [period_seconds * 1000, limit]
    refused, ttl_ms = cache_redis().eval(_HIT, len(keys), *keys, *args)
    return int(refused) == 0, max(int(ttl_ms), 0) / 1000


def budget_take(key: str, *, limit: int, period_seconds: int) -> tuple[bool, float]:
    """Count one request against `key`; (allowed, seconds until the window reopens)."""
    return budgets_take([(key, limit, period_seconds)])


def client_ip(request) -> str:
    """The caller's address: `X-Forwarded-For` is trusted only as far as `NUM_PROXIES`
    (= `TRUSTED_PROXY_HOPS`) proxies in front of us vouch for it."""
    return BaseThrottle().get_ident(request)


def caller_ident(request) -> str:
    """An API key, else a signed-in user, else the IP address."""
    actor = getattr(request, "auth", None)
    api_key = getattr(actor, "api_key", None)
    if api_key is not None:
        return f"key:{api_key.pk}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


class _RedisThrottle(BaseThrottle):
    """Each `budgets()` entry `(key, rate)` must admit the request; the longest wait wins."""

    def budgets(self, request, view) -> list[tuple[str, str]]:
        raise NotImplementedError

    def allow_request(self, request, view):
        self.wait_seconds = None
        try:
            budgets = [(key, *parse_rate(rate)) for key, rate in self.budgets(request, view)]
            allowed, wait = budgets_take(budgets)
            if not allowed:
                self.wait_seconds = max(wait, 1.0)
                return False
        except (redis.RedisError, OSError):
            logger.warning("throttle store unavailable; request not throttled", exc_info=True)
        return True

    def wait(self):
        return self.wait_seconds


def _rate(scope: str) -> str | None:
    return api_settings.DEFAULT_THROTTLE_RATES.get(scope)


class AnonThrottle(_RedisThrottle):
    """Requests without a key or session: per IP address."""

    def budgets(self, request, view):
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            return []
        rate = _rate("anon")
        return [(f"anon:{client_ip(request)}", rate)] if rate else []


class KeyThrottle(_RedisThrottle):
    """Authenticated requests: per API key (a session counts per user)."""

    def budgets(self, request, view):
        if getattr(request, "user", None) is None or not request.user.is_authenticated:
            return []
        rate = _rate("user")
        return [(f"caller:{caller_ident(request)}", rate)] if rate else []


class CostlyEndpointThrottle(_RedisThrottle):
    """The scoped budgets of `COSTLY_ROUTES`: one per caller and one per IP address."""

    def budgets(self, request, view):
        match = getattr(request, "resolver_match", None)
        if match is None:
            return []
        scope = COSTLY_ROUTES.get((match.view_name, request.method))
        if scope is None:
            return []
        rates = settings.API_THROTTLE_SCOPES.get(scope)
        if not rates:
            return []
        return [
            (f"{scope}:caller:{caller_ident(request)}", rates["caller"]),
            (f"{scope}:ip:{client_ip(request)}", rates["ip"]),
        ]


class ApiThrottle(_RedisThrottle):
    """Every budget of the API in one throttle (one Redis round trip per request): the
    anonymous or the caller's budget, then a costly route's own."""

    _parts = (AnonThrottle(), KeyThrottle(), CostlyEndpointThrottle())

    def budgets(self, request, view):
        return [budget for part in self._parts for budget in part.budgets(request, view)]
