"""`Idempotency-Key` replay, which localstripe lacks, for every POST under /v1/.

Like Stripe: keys are scoped to the API key (Authorization header, plus Stripe-Account), the first
response (status and body, success or error) is stored and replayed with `Idempotent-Replayed:
true` without running the request again, and reusing a key for another endpoint or with other
parameters is a 400 `idempotency_error`. A key whose first request is still running answers 409.
Keys live in memory; the oldest are forgotten past `MAX_KEYS`.
"""

import json
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web
from localstripe.errors import UserError, json_response

MAX_KEYS = 10_000


@dataclass(frozen=True)
class _Entry:
    endpoint: str
    params: tuple
    status: int
    body: bytes
    content_type: str


_stored: OrderedDict = OrderedDict()
_running: set = set()


async def _params(request):
    """The request's parameters in a canonical form, so that field order does not matter."""
    body = await request.read()
    if request.content_type == "application/json" and body:
        try:
            return (json.dumps(json.loads(body), sort_keys=True),)
        except ValueError:
            return (body,)
    return tuple(sorted(parse_qsl(body.decode(), keep_blank_values=True)))


def _error(status, message):
    return json_response(
        {"error": {"type": "idempotency_error", "message": message}}, status=status
    )


@web.middleware
async def idempotency_middleware(request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or not request.path.startswith("/v1/"):
        return await handler(request)

    scope = (request.headers.get("Authorization", ""), request.headers.get("Stripe-Account"), key)
    endpoint = f"{request.method} {request.path}"
    params = await _params(request)

    stored = _stored.get(scope)
    if stored is not None:
        if stored.endpoint != endpoint:
            return _error(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{stored.endpoint}' vs '{endpoint}'). Try using a key other "
                f"than '{key}' if you meant to execute a different request.",
            )
        if stored.params != params:
            return _error(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
            )
        return web.Response(
            body=stored.body,
            status=stored.status,
            content_type=stored.content_type,
            headers={"Idempotency-Key": key, "Idempotent-Replayed": "true"},
        )

    if scope in _running:
        return _error(
            409,
            "There is currently another in-progress request using this Idempotent Key (that "
            "probably means you submitted twice, and the other request is still going "
            f"through): {key}. Please try again later.",
        )

    _running.add(scope)
    try:
        try:
            response = await handler(request)
        except UserError as e:
            response = e.to_response()
    finally:
        _running.discard(scope)

    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        _stored[scope] = _Entry(
            endpoint, params, response.status, response.body, response.content_type
        )
        while len(_stored) > MAX_KEYS:
            _stored.popitem(last=False)
        response.headers["Idempotency-Key"] = key
    return response
