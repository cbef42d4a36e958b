"""/healthz: public, calls no third party (never Stripe), answers within its budget even with a
frozen dependency, cached for a few seconds; which component failed is for staff only.
/livez (Kubernetes liveness) calls nothing; /readyz (readiness) runs the same checks and names
what failed."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

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


@pytest.fixture(autouse=True)
def _generous_budget(settings):
    """A budget that a loaded machine (a first boto3 client, two cores shared) cannot miss: a
    refused connection still fails at once. The tests of the budget itself set it back to 1 s."""
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 10.0


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
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 1.0
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


# --- /livez and /readyz (Kubernetes probes, deploy/k8s) -------------------------------------


def test_livez_calls_no_dependency(settings, django_assert_num_queries):
    """Liveness stays 200 with Redis and storage unreachable, and asks the database nothing:
    an outage of a dependency must not make Kubernetes restart every web pod."""
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    with django_assert_num_queries(0):
        response = Client().get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_readyz_all_up_is_200():
    response = Client().get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "ok", "down": []}
    assert response["Cache-Control"] == "no-store"


def test_readyz_redis_down_is_503_naming_redis(settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["redis"]
    assert body["error"] == "dependency_down"
    assert "redis" in body["message"]
    assert "127.0.0.1" not in json.dumps(body)  # names, not hosts


def test_readyz_storage_down_is_503_naming_storage(settings):
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["storage"]


def test_readyz_frozen_storage_is_503_within_the_budget(settings, frozen_port):
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 1.0
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{frozen_port}"
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["storage"]


def test_readyz_never_calls_stripe(settings):
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert "stripe" not in json.dumps(response.json())


def test_readyz_answer_is_cached_for_a_few_seconds(settings):
    """Kubelets probe every few seconds per pod: within HEALTH_CACHE_SECONDS the answer is
    reused, so a bucket removed between two probes shows only once the cached answer is gone."""
    settings.HEALTH_CACHE_SECONDS = 60
    settings.AWS_STORAGE_BUCKET_NAME = "readyz-cache-check"
    from marketplace.storage import s3_client

    s3_client().create_bucket(Bucket="readyz-cache-check")
    assert Client().get("/readyz").status_code == 200
    s3_client().delete_bucket(Bucket="readyz-cache-check")
    assert Client().get("/readyz").status_code == 200  # cached
    health.health_cache_clear()
    response = Client().get("/readyz")
    assert response.status_code == 503  # asked again
    assert response.json()["down"] == ["storage"]


def _probe_in_a_process(environment: dict) -> dict:
    """/livez and /readyz answered by a fresh process whose settings come from `environment`
    (the database connection is made from DATABASE_URL at start-up, so a dead database
    cannot be simulated inside this process)."""
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "from django.test import Client; "
        # A fresh process builds its storage client on the first probe: a budget that a
        # loaded machine cannot miss (a refused connection still fails at once).
        "settings.HEALTH_CHECK_TIMEOUT_SECONDS = 20; c = Client(); out = {}\n"
        "for path in ('/livez', '/readyz'):\n"
        "    r = c.get(path); out[path] = [r.status_code, r.json()]\n"
        "print(json.dumps(out))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **environment}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _database_url() -> str:
    """The test database this session uses, as a URL for another process."""
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def test_readyz_database_down_is_503_naming_the_database_and_livez_stays_200(moto_url):
    dead = f"postgres://postgres@127.0.0.1:{free_port()}/nothing_listens_here"
    answers = _probe_in_a_process({"DATABASE_URL": dead, "AWS_S3_ENDPOINT_URL": moto_url})
    assert answers["/livez"] == [200, {"status": "ok"}]
    status, body = answers["/readyz"]
    assert status == 503
    assert body["down"] == ["database"]


def test_readyz_in_a_process_with_every_dependency_up_is_200(moto_url):
    """The control of the test above: the same process set-up with the real database."""
    answers = _probe_in_a_process(
        {"DATABASE_URL": _database_url(), "AWS_S3_ENDPOINT_URL": moto_url}
    )
    assert answers["/readyz"] == [200, {"status": "ok", "down": []}]
