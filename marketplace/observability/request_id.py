"""The request id: one per web request (an incoming `X-Request-ID` when sane, else generated),
carried by the Celery tasks that request enqueues (task headers) and by the Stripe objects it
creates (metadata), so one purchase can be followed in the logs from request to payout."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

import redis

from marketplace.observability.store import redis_client

logger = logging.getLogger(__name__)

HEADER = "X-Request-ID"
# What a proxy or client may send: short, printable, no spaces or quotes (it goes into log lines,
# task headers and Stripe metadata); anything else is replaced by an id of ours.
_SANE = re.compile(r"^[A-Za-z0-9._:@/+=-]{8,128}$")

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_sanitize(value: str | None) -> str | None:
    """The incoming id if it is safe to repeat, else None."""
    if value and _SANE.match(value):
        return value
    return None


def request_id_get() -> str | None:
    """The id of the request or task this code runs for (None outside both)."""
    return _current.get()


def request_id_set(value: str | None) -> contextvars.Token:
    return _current.set(value)


def request_id_reset(token: contextvars.Token) -> None:
    _current.reset(token)


# --- Stripe metadata -------------------------------------------------------------------------
# Stripe compares the parameters of a request that repeats an idempotency key with the first
# one's and refuses a difference. A retry of the same Stripe call (a crash, an outage, a payout
# run executed again) comes from another request or task, so it must send the request id of the
# first attempt, not its own: the first id sent under each key is kept in Redis (shared by every
# process) for longer than Stripe keeps keys (24 hours), and every attempt sends that one.
STRIPE_KEY_PREFIX = "observability:stripe-request-id:"
STRIPE_KEY_SECONDS = 7 * 24 * 3600


def stripe_request_metadata(idempotency_key: str) -> dict[str, str]:
    """`{"request_id": ...}` to merge into the metadata of a Stripe call made with
    `idempotency_key`: the id of the first attempt under that key ({} when it had none)."""
    current = request_id_get() or ""
    try:
        client = redis_client()
        key = STRIPE_KEY_PREFIX + idempotency_key
        client.set(key, current, nx=True, ex=STRIPE_KEY_SECONDS)
        stored = client.get(key)
    except redis.RedisError:
        # Without the record a retry could differ from its first attempt; sending no request
        # id keeps the parameters of this attempt what they would have been before issue 14.
        logger.warning("request id for Stripe key %s not recorded (Redis down)", idempotency_key)
        return {}
    first = stored.decode() if stored is not None else current
    return {"request_id": first} if first else {}
