"""One error shape for every API failure: `{"message": <human text>, "error": <code>, ...}`.

The MDC SDK shows `message` (falling back to `error`); DRF's `{"detail": ...}` and bare field-error
dicts would reach the user as a generic line, so every 4xx/5xx goes through here. Field errors go
under `fields`."""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from marketplace.payments import stripe_error
from marketplace.services.errors import ServiceError
from marketplace.storage import storage_error

logger = logging.getLogger(__name__)

STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    402: "payment_required",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "throttled",
    500: "server_error",
    503: "service_unavailable",
}


class ApiError(exceptions.APIException):
    """An API error with any status and a stable machine code; extra keys go into the body."""

    def __init__(self, message: str, *, status_code: int = 400, code: str | None = None, **extra):
        self.status_code = status_code
        self.error_code = code or STATUS_CODES.get(status_code, "error")
        self.extra = extra
        super().__init__(detail=message, code=self.error_code)


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        field, value = next(iter(detail.items()))
        inner = _first_message(value)
        return inner if field in ("non_field_errors", "__all__") else f"{field}: {inner}"
    return str(detail)


def _flatten(detail):
    if isinstance(detail, dict):
        return {k: _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


def api_exception_handler(exc, context):
    # A dependency down or frozen (storage, Stripe) is a 503, a multipart upload storage lost a
    # 410 (marketplace.storage.storage_error, marketplace.payments.stripe_error), never a 500.
    exc = storage_error(exc) or stripe_error(exc) or exc
    if isinstance(exc, ServiceError):
        exc = ApiError(exc.message, status_code=exc.status_code, code=exc.code, **exc.extra)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if str(exc) else "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, RequestDataTooBig):
        # A view read request.body past DATA_UPLOAD_MAX_MEMORY_SIZE (the request guard
        # refuses most such bodies before routing; this catches the rest).
        exc = ApiError("The request body is too large.", status_code=413)
    elif isinstance(exc, SuspiciousOperation | RecursionError):
        # Bad input Django refuses (too many fields, ...) or input nested too deep to parse.
        exc = ApiError("The request could not be read.", status_code=400, code="bad_request")

    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled API error", exc_info=exc)
        return Response(
            {"message": "Internal server error.", "error": "server_error"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    body: dict = {}
    if isinstance(exc, ApiError):
        body = {"message": str(exc.detail), "error": exc.error_code, **exc.extra}
    elif isinstance(exc, exceptions.ValidationError):
        body = {
            "message": _first_message(exc.detail) or "Invalid input.",
            "error": "validation_error",
            "fields": _flatten(exc.detail),
        }
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None)
        body = {
            "message": _first_message(detail),
            "error": code
            if isinstance(code, str)
            else STATUS_CODES.get(response.status_code, "error"),
        }
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        body["retryAfter"] = int(exc.wait)
    response.data = body
    return response


def _wants_json(request) -> bool:
    return request.path.startswith("/api") or request.path.startswith("/webhooks")


def json_or_html_404(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"message": "Not found.", "error": "not_found"}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_or_html_500(request):
    if _wants_json(request):
        return JsonResponse(
            {"message": "Internal server error.", "error": "server_error"}, status=500
        )
    from django.views.defaults import server_error

    return server_error(request)


def json_or_html_400(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"message": "Bad request.", "error": "bad_request"}, status=400)
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def json_or_html_403(request, exception=None):
    if _wants_json(request):
        return JsonResponse(
            {"message": "Permission denied.", "error": "permission_denied"}, status=403
        )
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)
