"""Stripe webhooks as Stripe sends them: an event body, signed with the endpoint secret in
Stripe's `t=<timestamp>,v1=<HMAC-SHA256>` scheme, POSTed to our receiver."""

import hashlib
import hmac
import json
import time
import uuid

from django.conf import settings
from django.test import Client


def stripe_signature(
    payload: bytes, *, secret: str | None = None, timestamp: int | None = None
) -> str:
    """The Stripe-Signature header for `payload`: HMAC-SHA256 of "<timestamp>.<payload>" keyed
    with `secret` (default: settings.STRIPE_WEBHOOK_SECRET) at `timestamp` (default: now)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    secret = secret or settings.STRIPE_WEBHOOK_SECRET
    mac = hmac.new(secret.encode(), b"%d.%s" % (timestamp, payload), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def stripe_event(event_type: str = "test.thing", **obj) -> bytes:
    """The JSON body of a new Stripe event (a fresh event id) about `obj`, whose `id` and
    `object` default to "obj_1" and "thing"."""
    return json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": {"id": "obj_1", "object": "thing", **obj}},
        }
    ).encode()


def webhook_post(payload: bytes, signature: str | None):
    """POST a raw event to the receiver, without a Stripe-Signature header when `signature` is
    None. After-commit work runs only if the caller captures it (or the test commits)."""
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature else {}
    return Client().post(
        "/webhooks/stripe", data=payload, content_type="application/json", **headers
    )
