"""Errors of this app the marketplace's set lacks."""

from marketplace.services.errors import ServiceError


class PaymentRequired(ServiceError):
    """402: the dataset is paid and the caller's organisation holds no active grant."""

    status_code = 402
    code = "payment_required"
