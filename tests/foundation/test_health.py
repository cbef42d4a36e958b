"""/healthz: public, calls no third party (never Stripe), answers within its budget even with a
frozen dependency, cached for a few seconds; which component failed is for staff only."""

import socket

import pytest
import requests
from django.test import Client

from devtools.processes import free_port
from marketplace import health

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_health_cache():
    health.health_cache_clear()
    yield
    health.health_cache_clear()


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def frozen_port():
    """A port that accepts connections (the kernel completes the handshake on the backlog) and
    never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_all_up_is_200_and_public_answer_says_only_ok():
    response = Client().get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "ok"}


def test_staff_see_each_component(staff_client):
    response = staff_client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert set(body["checks"]) == {"database", "redis", "storage"}
    assert all(check["ok"] for check in body["checks"].values())


def test_stripe_is_never_called(settings, staff_client):
    """A payment outage must not take the web tier out of rotation."""
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    response = staff_client.get("/healthz")
    assert response.status_code == 200
    assert "stripe" not in response.json()["checks"]


def test_storage_down_is_503_naming_storage_for_staff_only(settings, staff_client):
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    public = Client().get("/healthz")
    assert public.status_code == 503
    assert public.json()["error"] == "dependency_down"
    assert "storage" not in str(public.json())
    health.health_cache_clear()
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["storage"]
    assert "storage" in body["message"]
    assert body["checks"]["database"]["ok"] is True


def test_frozen_storage_answers_503_within_the_budget(settings, staff_client, frozen_port):
    """The probe of a store that accepts and never answers is cut at the budget: the answer is
    a 503 naming storage (a timeout), not a hung request. Asserted through the server's own
    report, not a wall clock."""
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{frozen_port}"
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert "storage" in body["down"]
    assert body["checks"]["storage"]["error"] in ("Timeout", "ReadTimeoutError")


def test_redis_down_is_503_naming_redis(settings, staff_client):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["redis"]


def test_missing_bucket_is_503(settings, staff_client):
    settings.AWS_STORAGE_BUCKET_NAME = "no-such-bucket-here"
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["storage"]


def test_answer_is_cached_for_a_few_seconds(settings, moto_url):
    """Within HEALTH_CACHE_SECONDS a second probe reuses the first answer: a bucket removed
    between two probes shows only once the cached answer is gone."""
    settings.HEALTH_CACHE_SECONDS = 60
    settings.AWS_STORAGE_BUCKET_NAME = "healthz-cache-check"
    from marketplace.storage import s3_client

    s3_client().create_bucket(Bucket="healthz-cache-check")
    assert Client().get("/healthz").status_code == 200
    s3_client().delete_bucket(Bucket="healthz-cache-check")
    assert Client().get("/healthz").status_code == 200  # cached
    health.health_cache_clear()
    assert Client().get("/healthz").status_code == 503  # asked again
    assert requests.get(f"{moto_url}/healthz-cache-check", timeout=5).status_code == 404
