"""Request budgets (429 with Retry-After). They live in the cache; if the cache is unreachable
the request is let through rather than failing the whole API."""

import logging

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class _FailOpen:
    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - cache down: serve, and say so in the log
            logger.warning("throttle cache unavailable; request not throttled", exc_info=True)
            return True


class AnonThrottle(_FailOpen, AnonRateThrottle):
    pass


class KeyThrottle(_FailOpen, UserRateThrottle):
    pass
