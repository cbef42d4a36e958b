"""Domain errors raised by services; the API maps each to its status (MDC contract §2)."""


class ServiceError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **extra):
        super().__init__(message)
        self.message = message
        if code is not None:
            # A specific machine code (e.g. `quota_exceeded`) instead of the class default.
            self.code = code
        self.extra = extra


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"


class Gone(ServiceError):
    status_code = 410
    code = "gone"


class Forbidden(ServiceError):
    status_code = 403
    code = "permission_denied"


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"


class Invalid(ServiceError):
    status_code = 422
    code = "unprocessable_entity"
