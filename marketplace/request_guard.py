"""Input no /api view can handle, refused before routing with the error envelope instead of a
500 from deep inside (issue 11, dynamic finding 3):

- a body over `DATA_UPLOAD_MAX_MEMORY_SIZE` (Content-Length) → 413, before it is read;
- JSON nested deeper than `API_JSON_MAX_DEPTH` → 400 (Python's parser would raise
  RecursionError around 1,000 levels, and anything deep but parseable would recurse later);
- a NUL character in the path → 404 (no object has one; PostgreSQL refuses it in text);
- a NUL character in a header (an Idempotency-Key stored in a text column) or a JSON string
  (`\\u0000`; no text or jsonb column holds one) → 400.
"""

import re

from django.conf import settings
from django.http import JsonResponse

# Possessive: a string is consumed once, never backtracked into (linear on any input).
JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+"', re.DOTALL)
# `\u0000` in a JSON string (not an escaped backslash followed by "u0000"): PostgreSQL stores
# no NUL in text or jsonb, so no field of ours can hold one.
JSON_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"message": message, "error": code}, status=status)


def json_deeper_than(body: bytes, limit: int) -> bool:
    """Whether a JSON text nests arrays and objects deeper than `limit` (brackets inside
    strings do not count), in linear time and without recursion, valid JSON or not."""
    depth = 0
    for byte in JSON_STRING.sub(b"", body).translate(None, NOT_BRACKETS):
        if byte in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class ApiRequestGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            refused = self._refusal(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _refusal(self, request) -> JsonResponse | None:
        if "\x00" in request.path:
            return _error(404, "not_found", "Not found.")
        for name, value in request.META.items():
            if name.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
                header = name[5:].replace("_", "-").title()
                return _error(400, "bad_request", f"The {header} header contains a NUL character.")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and _content_length(request) > limit:
            return _error(
                413, "payload_too_large", f"The request body is larger than {limit} bytes."
            )
        if "json" in request.META.get("CONTENT_TYPE", "") and _content_length(request):
            limit = settings.API_JSON_MAX_DEPTH
            if json_deeper_than(request.body, limit):
                return _error(400, "parse_error", f"JSON nested deeper than {limit} levels.")
            if JSON_NUL_ESCAPE.search(request.body):
                return _error(400, "parse_error", "JSON strings may not contain NUL (\\u0000).")
        return None
