"""OpenAPI description of our authentication (imported by MarketplaceConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "marketplace.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer <key>`.",
        }


class SessionActorAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "marketplace.authentication.SessionActorAuthentication"
    name = "BrowserSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": (
                "The web site's session (the browser uploader), acting for the organisation "
                "picked in the session; state-changing requests need the X-CSRFToken header."
            ),
        }


# --- Error responses of every operation (the error envelope, config/exceptions.py) -----------

ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Every 4xx/5xx answer of /api: a human `message` and a stable machine `error` code; "
        "field errors under `fields`, `retryAfter` (seconds) on 429, other keys by error."
    ),
    "properties": {
        "message": {"type": "string"},
        "error": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": True},
        "retryAfter": {"type": "integer"},
    },
    "required": ["message", "error"],
    "additionalProperties": True,
}

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: a parameter, the body, or a header (e.g. Idempotency-Key).",
    "401": "No key, or a bad, revoked or orphaned key (`WWW-Authenticate: Bearer`).",
    "402": "Payment required: the dataset is paid for and you hold no grant.",
    "403": "The key's user, role or organisation may not do this.",
    "404": "No such object in your organisation (another organisation's object included).",
    "409": "Conflicts with the object's current state.",
    "410": "The object was deleted, removed from the platform, or expired.",
    "413": "The request body is too large.",
    "415": "The body is not JSON.",
    "422": "Understood, but breaks a rule of the marketplace.",
    "429": "Too many requests: a rate budget is spent (`Retry-After`).",
    "502": "The payment provider answered with an error.",
    "503": "Object storage or the payment provider cannot be reached; try again.",
}

# Statuses beyond the ones every operation of its kind may answer (see `_error_statuses`),
# by operationId, from the services each operation calls.
_DATASET_GONE = {"410"}
_SUBMISSION = {"409", "410", "422"}
_UPLOAD = {"404", "409", "410", "422", "503"}
OPERATION_ERRORS: dict[str, set[str]] = {
    "datasets_detail": _DATASET_GONE,
    "datasets_croissant": _DATASET_GONE,
    "dataset_terms_get": _DATASET_GONE,
    "dataset_terms_accept": {"409", "410", "422"},
    "datasets_download": {"402", "410", "503"},
    "datasets_sample_download": {"402", "410", "503"},
    "datasets_downloads": _DATASET_GONE,
    "access_requests_create": {"409", "410", "422"},
    "access_requests_approve": {"409", "422"},
    "access_requests_reject": {"409", "422"},
    "datasets_shares_retrieve": _DATASET_GONE,
    "datasets_shares_update": {"409", "410", "422"},
    "contributors_claim_create": {"404", "409", "410"},
    "contributors_me_retrieve": {"404"},
    "contributors_me_payout_account_retrieve": {"404"},
    "contributors_me_payout_account_create": {"404", "502", "503"},
    "payout_account_create": {"502", "503"},
    "orders_create": {"404", "409", "410", "422", "503"},
    "organization_upload_access_create": {"409"},
    "keys_destroy": {"409"},
    "submissions_create": {"422"},
    "submissions_retrieve": {"410"},
    "submissions_update": _SUBMISSION,
    "submissions_submit": _SUBMISSION,
    "submissions_destroy": _SUBMISSION,
    "submissions_checks": {"410"},
    "uploads_start": _UPLOAD,
    "uploads_part": _UPLOAD,
    "uploads_parts_list": _UPLOAD,
    "uploads_complete": _UPLOAD,
    "uploads_abort": _UPLOAD,
    "sample_uploads_start": _UPLOAD,
    "sample_uploads_part": _UPLOAD,
    "sample_uploads_parts_list": _UPLOAD,
    "sample_uploads_complete": _UPLOAD,
    "sample_uploads_abort": _UPLOAD,
}


def _error_statuses(operation: dict) -> set[str]:
    """What any operation of this kind may answer: 400 (a header with a NUL character, see
    marketplace/request_guard.py, besides bad parameters or body), 401 (a bad key is refused
    even where no key is needed) and 429 everywhere; 403 where a key is required; 404 with a
    path parameter; 413 and 415 with a body."""
    statuses = {"400", "401", "429"}
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    if {} not in operation.get("security", [{}]):
        statuses.add("403")
    if any(p.get("in") == "path" for p in parameters):
        statuses.add("404")
    if has_body:
        statuses |= {"413", "415"}
    return statuses | OPERATION_ERRORS.get(operation.get("operationId"), set())


def error_responses_hook(result, generator, request, public):
    """drf-spectacular postprocessing hook: document every error status each operation can
    answer with the error envelope (`Error`), next to the success responses the views
    declare. A status a view already documents keeps its description, with the envelope."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            documented = {s for s in responses if s.isdigit() and s >= "400"}
            for status in sorted(_error_statuses(operation) | documented):
                response = responses.setdefault(
                    status, {"description": ERROR_DESCRIPTIONS.get(status, "Error.")}
                )
                response["content"] = envelope
    return result
