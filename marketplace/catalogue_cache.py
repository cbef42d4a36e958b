"""Cache of public catalogue pages.

The public catalogue only changes when something is published, removed or re-described. Pages
(E1) and the filter lists (E2) are cached under a *generation* number that is bumped after the
commit of every such change, so a cached answer is never staler than the last commit; a short
TTL bounds the relative `uploadDate` windows. If Redis is unavailable the page is simply built."""

import hashlib
import json
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

GENERATION_KEY = "catalogue:generation"


def _generation() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, 1, timeout=None)
        value = cache.get(GENERATION_KEY) or 1
    return int(value)


def _bump() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # evicted or never set
        cache.set(GENERATION_KEY, 2, timeout=None)
    except Exception:  # noqa: BLE001 - the TTL still bounds staleness
        logger.warning("could not bump the catalogue cache generation", exc_info=True)


def catalogue_changed() -> None:
    """Call inside the transaction that changes what the public catalogue shows. Bumps now and
    again after commit: a reader that cached the pre-commit state in between is superseded."""
    _bump()
    transaction.on_commit(_bump)


def catalogue_cached(kind: str, params: dict, build) -> bytes:
    """The JSON bytes of a catalogue answer, from the cache or built by `build()` (returns a
    JSON-serialisable object) and stored."""
    try:
        digest = hashlib.sha256(
            json.dumps(params, sort_keys=True, default=str).encode()
        ).hexdigest()
        key = f"catalogue:{kind}:{_generation()}:{digest}"
        body = cache.get(key)
    except Exception:  # noqa: BLE001 - Redis down: serve uncached
        logger.warning("catalogue cache unavailable", exc_info=True)
        return json.dumps(build()).encode()
    if body is None:
        body = json.dumps(build()).encode()
        try:
            cache.set(key, body, timeout=settings.CATALOGUE_CACHE_SECONDS)
        except Exception:  # noqa: BLE001
            logger.warning("catalogue cache unavailable", exc_info=True)
    return body
