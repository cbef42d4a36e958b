import pytest
from django.test import Client

from devtools.processes import free_port

pytestmark = pytest.mark.django_db


def test_all_up_is_200():
    response = Client().get("/healthz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "storage", "stripe"}
    assert all(check["ok"] for check in body["checks"].values())


def test_storage_down_is_503_naming_storage(settings):
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["storage"]
    assert "storage" in body["message"]
    assert body["checks"]["database"]["ok"] is True


def test_stripe_down_is_503_naming_stripe(settings):
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["stripe"]


def test_redis_down_is_503_naming_redis(settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["redis"]


def test_missing_bucket_is_503(settings):
    settings.AWS_STORAGE_BUCKET_NAME = "no-such-bucket-here"
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["storage"]
