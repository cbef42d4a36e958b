"""Limits read by base.py (split from it to keep each settings module short): the scoped request
budgets of costly endpoints (marketplace/throttling.py) and the outbound-event sender's limits
(marketplace/events/). Every value comes from the environment with a default."""

import environ

env = environ.Env()

# Scoped budgets of costly endpoints, per caller (key, user or IP) and per IP address.
API_THROTTLE_SCOPES = {
    "upload_start": {
        "caller": env("API_THROTTLE_UPLOAD_START", default="120/hour"),
        "ip": env("API_THROTTLE_UPLOAD_START_IP", default="240/hour"),
    },
    "upload_parts": {
        "caller": env("API_THROTTLE_UPLOAD_PARTS", default="2000/min"),
        "ip": env("API_THROTTLE_UPLOAD_PARTS_IP", default="4000/min"),
    },
    "downloads": {
        "caller": env("API_THROTTLE_DOWNLOADS", default="300/min"),
        "ip": env("API_THROTTLE_DOWNLOADS_IP", default="600/min"),
    },
    "orders": {
        "caller": env("API_THROTTLE_ORDERS", default="60/min"),
        "ip": env("API_THROTTLE_ORDERS_IP", default="120/min"),
    },
    "certificate_verify": {
        "caller": env("API_THROTTLE_CERTIFICATE_VERIFY", default="120/min"),
        "ip": env("API_THROTTLE_CERTIFICATE_VERIFY_IP", default="240/min"),
    },
    "access_requests": {
        "caller": env("API_THROTTLE_ACCESS_REQUESTS", default="30/hour"),
        "ip": env("API_THROTTLE_ACCESS_REQUESTS_IP", default="60/hour"),
    },
    # Takedown notices (no account needed): the API and the web form share these budgets.
    "takedown_notices": {
        "caller": env("API_THROTTLE_TAKEDOWN_NOTICES", default="10/hour"),
        "ip": env("API_THROTTLE_TAKEDOWN_NOTICES_IP", default="20/hour"),
    },
}

# --- Outbound events to licensees (issue 13 §1, marketplace/events/) ---
# Deliveries are retried with exponential backoff (from WEBHOOKS_RETRY_BASE_SECONDS, doubling, at
# most 6 h apart) for WEBHOOKS_RETRY_WINDOW_SECONDS; an endpoint failing this many attempts in a
# row is disabled and its owners e-mailed. The sender refuses loopback / private addresses
# unless allowed here (tests allow loopback), never follows redirects, stores <= 1 KB of a reply.
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=5.0)
WEBHOOKS_RETRY_BASE_SECONDS = env.int("WEBHOOKS_RETRY_BASE_SECONDS", default=60)
WEBHOOKS_RETRY_WINDOW_SECONDS = env.int("WEBHOOKS_RETRY_WINDOW_SECONDS", default=3 * 24 * 3600)
WEBHOOKS_DISABLE_AFTER_FAILURES = env.int("WEBHOOKS_DISABLE_AFTER_FAILURES", default=100)
WEBHOOKS_RESPONSE_BODY_MAX = 1024
WEBHOOKS_ALLOW_LOOPBACK = env.bool("WEBHOOKS_ALLOW_LOOPBACK", default=False)
WEBHOOKS_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", default=False)

# --- API-key authentication cache (marketplace/key_cache.py) ---
# A key that authenticated is remembered this long in the cache; every change to the key, its
# user, membership or organisation invalidates it at once. 0 turns the cache off.
API_AUTH_CACHE_SECONDS = env.int("API_AUTH_CACHE_SECONDS", default=30)

# --- Prepared statements on the download hot path (licensing.selectors.prepared_cursor) ---
# E4/E6's context query and session INSERT are prepared once per database connection (server-side
# binding), so PostgreSQL plans them once instead of on every request. Turn off behind a
# connection pooler that hands a client a different server connection per transaction and does
# not track protocol-level prepared statements (PgBouncer in transaction mode before 1.21, or
# without max_prepared_statements); session pooling and direct connections are fine.
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
