"""Test settings: PostgreSQL like production; moto and the Stripe emulator are started on free
loopback ports by tests/conftest.py, which points these settings at them."""

from .base import *  # noqa: F403
from .base import DATABASES, env

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdefghijklmnopqrstuvwxyz"
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A separate Redis database and queue so a developer's running `make run` never consumes test
# tasks. Tests run tasks eagerly unless a test starts a real worker.
REDIS_URL = env("TEST_REDIS_URL", default="redis://127.0.0.1:6379/14")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="datacollective-test")
# The cache (throttles, catalogue pages) in its own Redis database, emptied before every test.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("TEST_CACHE_URL", default="redis://127.0.0.1:6379/15"),
    }
}
STORAGES = {
    "default": {"BACKEND": "storages.backends.s3.S3Storage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
AWS_STORAGE_BUCKET_NAME = "datacollective-test"
HEALTH_CHECK_TIMEOUT_SECONDS = 1.0
DATABASES["default"]["CONN_MAX_AGE"] = 0
