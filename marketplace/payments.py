"""stripe-python configured from settings. All Stripe calls go through `stripe_client()`."""

import stripe
from django.conf import settings


def stripe_client(*, max_network_retries: int = 2, timeout: float = 30.0) -> stripe.StripeClient:
    base = settings.STRIPE_API_BASE
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": base, "connect": base, "files": base},
        max_network_retries=max_network_retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def stripe_event_construct(*, payload: bytes, signature: str) -> stripe.Event:
    """Verify a webhook's signature and timestamp (tolerance from settings) and parse it."""
    return stripe.Webhook.construct_event(
        payload,
        signature,
        settings.STRIPE_WEBHOOK_SECRET,
        tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    )
