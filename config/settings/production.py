"""Production settings: base plus hardening. Everything that differs per deployment comes from the
environment; a variable without a safe default is required, so a misconfigured deployment fails
at start-up instead of running with a development value (see deploy/README.md for the list).

`manage.py check --deploy --fail-level WARNING` passes with these settings
(tests/foundation/test_deploy_check.py)."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import LOGGING, env

DEBUG = False

# Required, no default: a missing value raises ImproperlyConfigured naming the variable.
SECRET_KEY = env("DJANGO_SECRET_KEY")
if not SECRET_KEY.strip():
    # `DJANGO_SECRET_KEY=` (set but empty) is a templating mistake, not a choice.
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is set but empty.")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
# Absolute URLs handed to clients are built from this, so a development default would silently
# hand out unreachable links.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL").rstrip("/")
STORAGE_CORS_ORIGINS = env.list("STORAGE_CORS_ORIGINS", default=[PUBLIC_BASE_URL])
# base.py derives these from the environment with loopback/emulator defaults; in production the
# defaults would point at nothing (or at a fake), so the variables must be set. Reading them
# here without a default makes a missing one fail loudly; base's parsed values are kept.
for _name in ("DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
    env(_name)
del _name

# Cross-origin form posts (e.g. admin behind a different host) must be listed explicitly;
# same-origin requests are verified against the Host and the forwarded scheme below.
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS -----------------------------------------------------------------------------------
# TLS ends at the load balancer / ingress, which sets X-Forwarded-Proto. Only trust this header
# behind a proxy that always overwrites it (it must never pass a client's value through).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Load balancers probe /healthz over plain HTTP on the pod/instance address; a redirect to
# https would read as "down". The pattern is matched against the path without its leading "/".
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
# One year of HSTS. Start lower (e.g. 300) on a new domain and raise it once HTTPS is known to
# work everywhere: browsers remember the policy for the whole period.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = env("SECURE_REFERRER_POLICY", default="strict-origin-when-cross-origin")
SESSION_COOKIE_HTTPONLY = True
# The web UI is never framed (clickjacking on the license/terms pages).
X_FRAME_OPTIONS = "DENY"
# Owners need two-factor authentication before they change prices or payout settings.
WEB_OWNER_MFA_REQUIRED = env.bool("WEB_OWNER_MFA_REQUIRED", default=True)
# Staff need an activated TOTP authenticator (and a code entered this session) to use the admin.
WEB_STAFF_MFA_REQUIRED = env.bool("WEB_STAFF_MFA_REQUIRED", default=True)

# --- External services -----------------------------------------------------------------------
# base.py defaults to the local emulators; here the defaults are the real services.
# Real AWS S3: leave AWS_S3_ENDPOINT_URL unset. MinIO/R2/Ceph: set it to a URL that *clients*
# can reach too, because presigned upload/download URLs are signed for this host.
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", default="") or None
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME")
# Unset keys let boto3 use its own credential chain (instance profile, IRSA, ...).
AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID", default="") or None
AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY", default="") or None
STRIPE_API_BASE = env("STRIPE_API_BASE", default="https://api.stripe.com")
# --- Malware scan (issue 11, finding 8) ---
# Required: every uploaded archive is scanned by clamd before a reviewer sees it. A deployment
# without CLAMD_URL (tcp://host:3310 or unix:///path) refuses to start.
CLAMD_URL = env("CLAMD_URL")
if not CLAMD_URL.strip().startswith(("tcp://", "unix://")):
    raise ImproperlyConfigured("CLAMD_URL must be tcp://host:port or unix:///path of clamd.")
# Tasks always go through the broker here: run eagerly they would block web requests and skip the
# acks-late/retry guarantees (base lets tests and demos switch this on).
CELERY_TASK_ALWAYS_EAGER = False

# --- Static files ----------------------------------------------------------------------------
# Hashed, pre-compressed files collected at image build time: far-future caching is safe, and
# WhiteNoise serves only what collectstatic produced (no finder lookups per request).
STORAGES = {
    "default": {"BACKEND": "storages.backends.s3.S3Storage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
STATIC_ROOT = env("DJANGO_STATIC_ROOT", default=str(STATIC_ROOT))  # noqa: F405
WHITENOISE_USE_FINDERS = False

# --- Logging ---------------------------------------------------------------------------------
# One line per record on stdout, collected by the container runtime. Same format as base.
LOGGING = {
    **LOGGING,
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stdout",
        }
    },
}

# License certificates are signed with keys from the environment only (never generated).
LICENSE_SIGNING_KEYS = env("LICENSE_SIGNING_KEYS")
LICENSE_SIGNING_KEY_AUTOGENERATE = False

# --- Secrets: no empty value and no development default (security finding 10) -----------------
# base.py's defaults let `make run` and the tests start with no environment; a deployment that
# forgot a variable (or copied .env.example) must not run on one of them.
_DEVELOPMENT_SECRETS = {
    "DJANGO_SECRET_KEY": ("dev-insecure-secret-key-change-me",),
    "STRIPE_SECRET_KEY": ("sk_test_datacollective_local",),
    "STRIPE_WEBHOOK_SECRET": ("whsec_datacollective_local",),
    "AWS_SECRET_ACCESS_KEY": ("testing",),
    "AWS_ACCESS_KEY_ID": ("testing",),
}
for _name, _defaults in _DEVELOPMENT_SECRETS.items():
    _value = env(_name, default=None)
    if _value is not None and _value.strip() in _defaults:
        raise ImproperlyConfigured(f"{_name} is set to its development default; set a real one.")
for _name in ("DJANGO_SECRET_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
    if not env(_name).strip():
        raise ImproperlyConfigured(f"{_name} is set but empty.")
if "PRIVATE KEY-----" not in LICENSE_SIGNING_KEYS:
    raise ImproperlyConfigured(
        "LICENSE_SIGNING_KEYS is empty or holds no PEM private key; production signs license "
        "certificates with configured keys only."
    )
del _name, _defaults, _value

# --- Content-Security-Policy (security finding 12) ---------------------------------------------
# Stripe.js only from Stripe (base.py's default is the local emulator's fake).
STRIPE_JS_URL = env("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
if not STRIPE_JS_URL.startswith("https://js.stripe.com/"):
    raise ImproperlyConfigured("STRIPE_JS_URL must be served by https://js.stripe.com.")
# The order page initialises Stripe.js with the account's publishable key: required, and never
# the development default (a buyer's page would otherwise fail to pay).
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY")
if (
    not STRIPE_PUBLISHABLE_KEY.startswith(("pk_live_", "pk_test_"))
    or STRIPE_PUBLISHABLE_KEY == "pk_test_datacollective_local"
):
    raise ImproperlyConfigured(
        "STRIPE_PUBLISHABLE_KEY must be the account's pk_live_/pk_test_ key, not the development one."
    )
