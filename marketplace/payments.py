"""stripe-python configured from settings. All Stripe calls go through `stripe_client()`.

Every call is bounded: a connect and a read timeout and a bounded number of network retries
(STRIPE_CONNECT_TIMEOUT_SECONDS, STRIPE_READ_TIMEOUT_SECONDS, STRIPE_MAX_NETWORK_RETRIES), so a
request path answers 503 within ~30 s when Stripe is down or frozen (`stripe_error`)."""

import stripe
from django.conf import settings

from marketplace.services.errors import ServiceError


class PaymentProviderUnavailable(ServiceError):
    """Stripe could not be reached (down, frozen) or answered 5xx; nothing was changed."""

    status_code = 503
    code = "payment_provider_unavailable"


def stripe_client(
    *,
    max_network_retries: int | None = None,
    timeout: float | tuple[float, float] | None = None,
) -> stripe.StripeClient:
    """A client with the configured bounds; `timeout` (seconds, or (connect, read)) and the
    retries may be raised by background work that can afford to wait longer."""
    base = settings.STRIPE_API_BASE
    if max_network_retries is None:
        max_network_retries = settings.STRIPE_MAX_NETWORK_RETRIES
    if timeout is None:
        timeout = (settings.STRIPE_CONNECT_TIMEOUT_SECONDS, settings.STRIPE_READ_TIMEOUT_SECONDS)
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": base, "connect": base, "files": base},
        max_network_retries=max_network_retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def stripe_error(exc: Exception) -> ServiceError | None:
    """The API error for a Stripe fault that is not the caller's (unreachable, timed out, 5xx,
    rate limited), or None."""
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or (
        isinstance(exc, stripe.APIError) and (exc.http_status or 500) >= 500
    ):
        return PaymentProviderUnavailable(
            "The payment provider is unreachable right now; nothing was charged. Try again "
            "shortly (with the same Idempotency-Key)."
        )
    return None


def stripe_event_construct(*, payload: bytes, signature: str) -> stripe.Event:
    """Verify a webhook's signature and timestamp (tolerance from settings) and parse it."""
    return stripe.Webhook.construct_event(
        payload,
        signature,
        settings.STRIPE_WEBHOOK_SECRET,
        tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    )
