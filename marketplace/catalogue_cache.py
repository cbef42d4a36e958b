"""Cache of public catalogue pages.

The public catalogue only changes when something is published, removed or re-described. Pages
(E1) and the filter lists (E2) are cached with the *generation* number they were built under,
which is bumped after the commit of every such change; an answer of an older generation is not
served, so a cached answer is never staler than the last commit. A short TTL bounds the
relative `uploadDate` windows. If Redis is unavailable the page is simply built."""

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
    JSON-serialisable object) and stored. An entry holds the generation it was built under and
    counts only while that is the current one; the generation and the entry are read in one
    round trip (a cached answer costs one Redis call, a miss two)."""
    try:
        digest = hashlib.sha256(
            json.dumps(params, sort_keys=True, default=str).encode()
        ).hexdigest()
        key = f"catalogue:{kind}:{digest}"
        found = cache.get_many([GENERATION_KEY, key])
        generation = found.get(GENERATION_KEY)
        generation = _generation() if generation is None else int(generation)
        entry = found.get(key)
    except Exception:  # noqa: BLE001 - Redis down: serve uncached
        logger.warning("catalogue cache unavailable", exc_info=True)
        return json.dumps(build()).encode()
    if entry is not None and entry[0] == generation:
        return entry[1]
    body = json.dumps(build()).encode()
    try:
        cache.set(key, (generation, body), timeout=settings.CATALOGUE_CACHE_SECONDS)
    except Exception:  # noqa: BLE001
        logger.warning("catalogue cache unavailable", exc_info=True)
    return body
