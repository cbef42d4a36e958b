"""One log line and the request metrics per request, under the request's id.

First in MIDDLEWARE, so the id is set before any other middleware logs and the duration covers
the whole stack. The id comes from a sane incoming `X-Request-ID` (a proxy's), else is ours; it
is echoed in the response's `X-Request-ID`."""

from __future__ import annotations

import logging
import time

from django.utils.functional import empty

from marketplace.observability.logs import REQUEST_LOGGER
from marketplace.observability.metrics import request_observe
from marketplace.observability.request_id import (
    HEADER,
    request_id_new,
    request_id_reset,
    request_id_sanitize,
    request_id_set,
)

logger = logging.getLogger(REQUEST_LOGGER)


def _route(request) -> str:
    """The route's name (or pattern): a bounded label, never the raw path."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.route or "unnamed"


def _user_id(request):
    """The user's id when authentication already ran (never a session query of its own)."""
    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", user)
    if user is None or wrapped is empty:
        return None
    return getattr(wrapped, "pk", None)


def _organization_id(request):
    for holder in (request.__dict__.get("auth"), request.__dict__.get("actor"), request):
        organization = getattr(holder, "organization", None)
        if organization is not None:
            return getattr(organization, "pk", None)
    return None


class RequestObservabilityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_sanitize(request.headers.get(HEADER)) or request_id_new()
        request.request_id = request_id
        token = request_id_set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            status = response.status_code
            response[HEADER] = request_id
            return response
        except Exception:
            status = 500
            raise
        finally:
            seconds = time.perf_counter() - started
            route = _route(request)
            request_observe(view=route, method=request.method, status=status, seconds=seconds)
            logger.info(
                "%s %s %s",
                request.method,
                request.path,
                status,
                extra={
                    "fields": {
                        "method": request.method,
                        "path": request.path,
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "user_id": _user_id(request),
                        "org_id": _organization_id(request),
                        "request_id": request_id,
                    }
                },
            )
            request_id_reset(token)
