"""The `Webhook-Signature` header, Stripe's scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>" keyed with the endpoint secret>`. The README shows the receiver's side."""

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def secret_new() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature_header(*, secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), b"%d.%s" % (timestamp, body), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"
