"""Settings shared by every environment. Every secret and endpoint comes from the environment;
`.env.example` lists each variable with its meaning and default."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-insecure-secret-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Absolute URLs handed to clients are built from this, never from the request's Host header.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "marketplace",
    "contributors",
    "licensing",
    "payouts",
    # The site shell; before allauth so its templates (the account pages' layout) win.
    "web",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_htmx",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY below).
    "web.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # request.organization / request.actor: the organisation the signed-in user acts for.
    "web.middleware.ActiveOrganizationMiddleware",
    # /admin/login/ goes through the site's sign-in (limits, lockout, two-factor).
    "web.middleware.AdminLoginMiddleware",
    # Staff two-factor in the admin (WEB_STAFF_MFA_REQUIRED).
    "web.staff_mfa.StaffMfaMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/datacollective"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "marketplace.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "storages.backends.s3.S3Storage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Redis / Celery ------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
# Every task but an ingestion pass is bounded by this hard limit; the broker's visibility
# timeout must exceed it or Redis would hand a still-running task to a second worker. Ingestion
# runs on a queue of its own with its own limit and visibility timeout (INGESTION_* below).
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_VISIBILITY_TIMEOUT = env.int(
    "CELERY_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 600
)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="datacollective")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("CACHE_URL", default=REDIS_URL),
    }
}

# --- Object storage (any S3-compatible store) ------------------------------------------------
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", default="http://127.0.0.1:9100") or None
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="datacollective")
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", default="us-east-1")
AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID", default="testing")
AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY", default="testing")
AWS_S3_ADDRESSING_STYLE = env("AWS_S3_ADDRESSING_STYLE", default="path")
AWS_S3_SIGNATURE_VERSION = "s3v4"
AWS_DEFAULT_ACL = None
AWS_QUERYSTRING_AUTH = True
# Presigned URLs are short-lived: a part URL is asked for right before each PUT, a download URL
# only outlives the transfer's start (S3 checks expiry then).
PRESIGNED_UPLOAD_TTL_SECONDS = env.int("PRESIGNED_UPLOAD_TTL_SECONDS", default=15 * 60)
PRESIGNED_DOWNLOAD_TTL_SECONDS = env.int("PRESIGNED_DOWNLOAD_TTL_SECONDS", default=15 * 60)
AWS_QUERYSTRING_EXPIRE = PRESIGNED_DOWNLOAD_TTL_SECONDS
# Browser uploads (Uppy) come from these origins; used by `bootstrap_storage` for bucket CORS.
STORAGE_CORS_ORIGINS = env.list("STORAGE_CORS_ORIGINS", default=[PUBLIC_BASE_URL])

# --- Stripe ------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="sk_test_datacollective_local")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="whsec_datacollective_local")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="http://127.0.0.1:8420")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
# How long a worker's claim on a Stripe event lasts before another may run it (longer than the
# handlers' Stripe calls can take: stripe-python times out after 80 s per call).
STRIPE_EVENT_LEASE_SECONDS = env.int("STRIPE_EVENT_LEASE_SECONDS", default=600)

# --- Content-Security-Policy (security finding 12) --------------------------------------------
# No inline script or style anywhere; scripts, styles, fonts and workers from our own origin.
# The object store (uploads) and Stripe.js are added per request by
# web.middleware.ContentSecurityPolicyMiddleware. Stripe.js: https://js.stripe.com in production;
# in development the emulator serves a fake one.
STRIPE_JS_URL = env("STRIPE_JS_URL", default=f"{STRIPE_API_BASE}/js.stripe.com/v3/")
# --- Paying in the browser (issue 12, licensing/views_access.py) ---
# The publishable key Stripe.js is initialised with on the order page (pk_live_/pk_test_ of the
# same account as STRIPE_SECRET_KEY); the emulator's stand-in accepts any pk_ key.
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="pk_test_datacollective_local")
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": [],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        # WebAssembly (hash-wasm computes upload checksums in a worker); never JS eval.
        "script-src": ["'self'", "'wasm-unsafe-eval'"],
        "style-src": ["'self'"],
        # data: for the CSS's inline SVG icons and the TOTP QR code.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        "frame-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    },
}
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_REFERRER_POLICY = env("SECURE_REFERRER_POLICY", default="strict-origin-when-cross-origin")
X_FRAME_OPTIONS = "DENY"

# --- Health ------------------------------------------------------------------------------
HEALTH_CHECK_TIMEOUT_SECONDS = env.float("HEALTH_CHECK_TIMEOUT_SECONDS", default=2.0)

# --- Faults: bounded outbound calls, heartbeats, per-queue visibility (issue 11, D4-D6) ---
# Every outbound call has connect/read timeouts and a bounded number of attempts, so a request
# path answers 503 within ~30 s when a dependency is down or frozen:
# attempts x (connect + read) + backoff stays under it.
STORAGE_CONNECT_TIMEOUT_SECONDS = env.float("STORAGE_CONNECT_TIMEOUT_SECONDS", default=3.0)
STORAGE_READ_TIMEOUT_SECONDS = env.float("STORAGE_READ_TIMEOUT_SECONDS", default=8.0)
STORAGE_MAX_ATTEMPTS = env.int("STORAGE_MAX_ATTEMPTS", default=2)  # the first one included
# Before a download URL is signed a HEAD of the bucket proves the store answers; a success is
# remembered this long per process (the download hot path). Storage's answer that it holds a
# multipart upload is shared through Redis for this long (part URLs, U2).
STORAGE_PROBE_CACHE_SECONDS = env.float("STORAGE_PROBE_CACHE_SECONDS", default=5.0)
STRIPE_CONNECT_TIMEOUT_SECONDS = env.float("STRIPE_CONNECT_TIMEOUT_SECONDS", default=2.0)
STRIPE_READ_TIMEOUT_SECONDS = env.float("STRIPE_READ_TIMEOUT_SECONDS", default=6.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)  # after the first
# /healthz answers from a cache this long (seconds): probes cost the dependencies nothing much.
HEALTH_CACHE_SECONDS = env.float("HEALTH_CACHE_SECONDS", default=5.0)
# Ingestion passes run on their own queue (default: "<CELERY_TASK_DEFAULT_QUEUE>.ingestion"),
# bounded by their own time limit; a worker consuming that queue uses a visibility timeout
# above it, the others CELERY_VISIBILITY_TIMEOUT (config/celery.py).
INGESTION_QUEUE = env("INGESTION_QUEUE", default="")
INGESTION_TASK_TIME_LIMIT = env.int("INGESTION_TASK_TIME_LIMIT", default=3 * 3600)
INGESTION_VISIBILITY_TIMEOUT = env.int(
    "INGESTION_VISIBILITY_TIMEOUT", default=INGESTION_TASK_TIME_LIMIT + 600
)
# A running check run writes a heartbeat (CheckRun.updated_at) at most this often while it
# reads the archive; one whose heartbeat is older than INGESTION_STALE_SECONDS lost its worker
# and is queued again by the sweep (beat, every INGESTION_SWEEP_SECONDS). A queued run whose
# message was lost is queued again after INGESTION_QUEUED_STALE_SECONDS.
INGESTION_HEARTBEAT_SECONDS = env.float("INGESTION_HEARTBEAT_SECONDS", default=30.0)
INGESTION_STALE_SECONDS = env.float("INGESTION_STALE_SECONDS", default=180.0)
INGESTION_QUEUED_STALE_SECONDS = env.int("INGESTION_QUEUED_STALE_SECONDS", default=3600)
INGESTION_SWEEP_SECONDS = env.float("INGESTION_SWEEP_SECONDS", default=60.0)

# --- API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # A Bearer key first (the SDK, scripts); then the browser's session acting for the
    # organisation it picked (the uploader), with CSRF enforced.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "marketplace.authentication.ApiKeyAuthentication",
        "marketplace.authentication.SessionActorAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "config.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # `?format=TSV` is the catalogue's file-format filter (MDC E1), never a renderer override.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Data Collective API",
    "DESCRIPTION": (
        "Marketplace API for licensed AI training data. Wire-compatible with the Mozilla Data "
        "Collective SDK (datacollective 0.7.0) under /api."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api",
    "COMPONENT_SPLIT_REQUEST": True,
}
# OpenAPI (issue 11): each error status documented with the envelope (marketplace/schema.py);
# choice sets sharing a field name get stable component names.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    "ShareBasisEnum": ["percentage", "weight"],
    "TakedownBasisEnum": "marketplace.models.takedowns.TakedownNotice.Basis",
    "WithdrawalStatusEnum": ["open", "fulfilled"],
    "PayoutAccountStatusEnum": ["none", "onboarding", "enabled"],
}
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "marketplace.schema.error_responses_hook",
]
# --- API request guard (issue 11, dynamic finding 3): before routing, a body over
# DATA_UPLOAD_MAX_MEMORY_SIZE (Django's, 2.5 MiB) is 413, JSON nested deeper than this is 400,
# NUL in the path 404 and in a header 400 (marketplace/request_guard.py).
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=64)
MIDDLEWARE.insert(1, "marketplace.request_guard.ApiRequestGuardMiddleware")

# --- Operate (issue 14, marketplace/observability/) ------------------------------------------
# A log line per request and per task, with the request id. LOG_FORMAT: json (default unless
# DEBUG) or readable; the formatter keeps the name production.py uses. The request and task
# loggers hold the handler themselves: a Celery worker replaces the root logger's.
LOG_FORMAT = env("LOG_FORMAT", default="readable" if DEBUG else "json")
_LOG_FORMATTER = "JsonFormatter" if LOG_FORMAT == "json" else "ReadableFormatter"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"()": f"marketplace.observability.logs.{_LOG_FORMATTER}"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        name: {"handlers": ["console"], "level": "INFO", "propagate": False}
        for name in ("datacollective.request", "datacollective.task")
    },
}
MIDDLEWARE.insert(0, "marketplace.observability.middleware.RequestObservabilityMiddleware")
# /metrics: the scraper's bearer token (empty: 404); business gauges cached this many seconds.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_CACHE_SECONDS = env.int("METRICS_CACHE_SECONDS", default=5)

# Celery reliability (read by config/celery.py through the CELERY_ namespace).
# A task is acknowledged only after it finished, so a worker killed mid-task (SIGKILL, OOM,
# node loss) leaves the message to be redelivered; every task is idempotent for this reason.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per process: a long task never sits on prefetched work.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Longer than the longest task (its hard time limit), else Redis hands a task that is still
    # running to a second worker.
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # Unacknowledged messages of dead workers are restored in bounded batches; the restore
    # mutex expires quickly so a crashed restorer cannot block restores for long.
    "unacked_restore_limit": 100,
    "unacked_mutex_expire": 300,
}
CELERY_TIMEZONE = "UTC"

# --- Catalogue and uploads -----------------------------------------------------------------
# Per-upload cap (the MDC platform documents 80 GB) and per-organisation storage quota, bytes.
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=80 * 1000**3)
ORG_STORAGE_QUOTA_BYTES = env.int("ORG_STORAGE_QUOTA_BYTES", default=500 * 1000**3)
# An upload session not completed within this time is aborted (lifecycle: 7 days in storage).
UPLOAD_SESSION_TTL_SECONDS = env.int("UPLOAD_SESSION_TTL_SECONDS", default=7 * 24 * 3600)
# --- Upload sessions per organisation (issue 11, finding 3) ---
# Unfinished upload sessions an organisation may hold at once; a start beyond it is refused
# (409 too_many_open_uploads) until one completes, is aborted or expires.
UPLOAD_OPEN_SESSIONS_MAX = env.int("UPLOAD_OPEN_SESSIONS_MAX", default=20)
# Pricing (MDC shape): the buyer pays base + fee; fee = base × rate, rounded half up to a cent.
PLATFORM_FEE_RATE = env("PLATFORM_FEE_RATE", default="0.05")
# Request budgets (DRF throttles). Uploads need one part-URL call per part at 4-way concurrency.
API_THROTTLE_ANON = env("API_THROTTLE_ANON", default="1200/min")
API_THROTTLE_KEY = env("API_THROTTLE_KEY", default="3000/min")
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["marketplace.throttling.ApiThrottle"]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"anon": API_THROTTLE_ANON, "user": API_THROTTLE_KEY}

# --- Throttling: atomic budgets, client addresses, costly endpoints (security findings 4, D2) ---
# Budgets count in Redis (marketplace/throttling.py): every budget of a request (caller or
# anonymous, and a costly route's per caller and per IP) in one atomic script call.
# --- Ingestion checks ------------------------------------------------------------------------
# clamd over TCP (tcp://host:3310); empty disables the malware scan.
CLAMD_URL = env("CLAMD_URL", default="")
# Public catalogue pages are cached (invalidated on every publish/removal); this bounds how long
# the relative uploadDate windows of a cached page may lag, seconds.
CATALOGUE_CACHE_SECONDS = env.int("CATALOGUE_CACHE_SECONDS", default=60)

# --- Revenue shares and payout accounts -------------------------------------------------------
CONTRIBUTOR_INVITE_TTL_SECONDS = env.int("CONTRIBUTOR_INVITE_TTL_SECONDS", default=30 * 24 * 3600)
CONTRIBUTOR_SHARES_MAX_LINES = env.int("CONTRIBUTOR_SHARES_MAX_LINES", default=100_000)
# A consent withdrawal: days the provider has to publish a version without the members.
CONSENT_WITHDRAWAL_DEADLINE_DAYS = env.int("CONSENT_WITHDRAWAL_DEADLINE_DAYS", default=30)
# Country of new Connect Express accounts when the caller gives none (empty: Stripe decides).
STRIPE_CONNECT_DEFAULT_COUNTRY = env("STRIPE_CONNECT_DEFAULT_COUNTRY", default="")
DEFAULT_FROM_EMAIL = env(
    "DEFAULT_FROM_EMAIL", default="Data Collective <no-reply@datacollective.local>"
)
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)

# --- Ledger and payouts ------------------------------------------------------------------------
# Sale proceeds stay `pending` this long (refunds come out of pending), then become `available`.
REFUND_WINDOW_DAYS = env.int("REFUND_WINDOW_DAYS", default=14)
# Payout runs pay every payee whose available balance reaches the threshold (per currency, cents);
# only the currencies listed here are paid out by the periodic task.
PAYOUT_THRESHOLD_CENTS = env.json("PAYOUT_THRESHOLD_CENTS", default={"usd": 1000})
# A line left `sending` by a crash is taken over (and looked up at Stripe) after this long.
PAYOUT_SENDING_LEASE_SECONDS = env.int("PAYOUT_SENDING_LEASE_SECONDS", default=300)

# --- Licensing -----------------------------------------------------------------------------------
ACCESS_REQUEST_STALE_DAYS = env.int("ACCESS_REQUEST_STALE_DAYS", default=7)
# Ed25519 signing keys of license certificates: one PEM, several concatenated, or a JSON list;
# the first signs, all are published in /.well-known/jwks.json (rotation). Empty: a key is
# generated and stored in the database (development), unless autogeneration is off.
LICENSE_SIGNING_KEYS = env("LICENSE_SIGNING_KEYS", default="")
LICENSE_SIGNING_KEY_AUTOGENERATE = env.bool("LICENSE_SIGNING_KEY_AUTOGENERATE", default=True)
# A presigned download URL may be handed out again for this long (a tenth of its TTL at most).
DOWNLOAD_URL_REUSE_SECONDS = env.int("DOWNLOAD_URL_REUSE_SECONDS", default=30)
# Reverse proxies in front of the app whose X-Forwarded-For entries are trusted (download records).
TRUSTED_PROXY_HOPS = env.int("TRUSTED_PROXY_HOPS", default=0)
# Throttles read the client address from X-Forwarded-For only as far as these proxies vouch for
# it; 0 = the socket address (DRF's default, None, would trust whatever the client sends).
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_HOPS

# --- Web accounts (django-allauth) ---------------------------------------------------------------
# Web pages that need a signed-in user send people here (with a safe `next`).
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "web:dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "web:home"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# Sign up and sign in with an e-mail address and a password; the address must be verified.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Data Collective] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PUBLIC_BASE_URL.startswith("https") else "http"
# --- Login limits and lockout (security finding 5) ---------------------------------------------
# allauth's rate limits, counted in the cache: after LOGIN_FAILURES_MAX failed sign-ins for one
# address the account's sign-in is locked for LOGIN_LOCKOUT_SECONDS (the form says so), and per
# IP address. The Django admin's own login form is not used: /admin/login/ sends people to this
# sign-in (web.middleware.AdminLoginMiddleware), so the same limits, lockout and two-factor apply.
LOGIN_FAILURES_MAX = env.int("LOGIN_FAILURES_MAX", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=15 * 60)
ACCOUNT_RATE_LIMITS = {
    "login": env("LOGIN_RATE_PER_IP", default="30/m/ip"),
    "login_failed": f"20/m/ip,{LOGIN_FAILURES_MAX}/{LOGIN_LOCKOUT_SECONDS}s/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
    "confirm_email": "1/180s/key",
}
# allauth reads the client address like the API throttles do (X-Forwarded-For only as far as
# trusted proxies vouch for it).
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_HOPS
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Data Collective"
# Owners must have two-factor authentication on before they change payout or price settings.
# On in production, off in development so the demo flows stay short.
WEB_OWNER_MFA_REQUIRED = env.bool("WEB_OWNER_MFA_REQUIRED", default=False)
# --- Staff roles and two-factor in the admin (issue 11) ---
# Staff reach the admin only with an activated TOTP authenticator and a session in which they
# entered a code (web.staff_mfa); without one they are sent to set it up. On in production.
WEB_STAFF_MFA_REQUIRED = env.bool("WEB_STAFF_MFA_REQUIRED", default=False)
# How long an invitation to join an organisation stays valid.
ORGANIZATION_INVITE_TTL_SECONDS = env.int("ORGANIZATION_INVITE_TTL_SECONDS", default=14 * 24 * 3600)
# Invitation budgets (security finding 7): per organisation per day, per inviting user per hour.
ORGANIZATION_INVITES_PER_DAY = env.int("ORGANIZATION_INVITES_PER_DAY", default=50)
ORGANIZATION_INVITES_PER_INVITER_PER_HOUR = env.int(
    "ORGANIZATION_INVITES_PER_INVITER_PER_HOUR", default=20
)

# Request budgets of costly endpoints and the outbound-event sender's limits: config/settings/limits.py.
from .limits import *  # noqa: E402, F403
