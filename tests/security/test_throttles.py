"""Request budgets are exact under concurrency (dynamic finding 2), follow the trusted proxy
hops for client addresses, and costly endpoints have scoped budgets per caller and per IP
(security finding 4)."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings

from tests.assertions import assert_error
from tests.catalogue_helpers import api
from tests.factories import make_key

ROOT = Path(__file__).resolve().parents[2]


def _rest_framework(settings, **changes):
    """Replace REST_FRAMEWORK as a whole so DRF reloads its cached api_settings."""
    rf = {**django_settings.REST_FRAMEWORK}
    for name, value in changes.items():
        rf[name] = value
    settings.REST_FRAMEWORK = rf


def _hammer(url: str, *, clients: int, per_client: int, headers=None) -> list[requests.Response]:
    """`clients` threads, each with its own connection, fire at once (a barrier) and record
    every response."""
    barrier = threading.Barrier(clients)
    results: list[requests.Response] = []
    lock = threading.Lock()

    def run():
        with requests.Session() as session:
            barrier.wait()
            for _ in range(per_client):
                response = session.get(url, headers=headers or {}, timeout=60)
                with lock:
                    results.append(response)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _assert_exact_budget(results, budget):
    ok = [r for r in results if r.status_code == 200]
    limited = [r for r in results if r.status_code == 429]
    assert len(ok) == budget, sorted({r.status_code for r in results})
    assert len(ok) + len(limited) == len(results)
    for response in limited:
        body = response.json()
        assert body["error"] == "throttled" and body["message"]
        assert int(response.headers["Retry-After"]) >= 1
        assert body["retryAfter"] >= 1


@pytest.mark.django_db(transaction=True)
def test_anonymous_budget_is_exact_with_concurrent_clients(settings, live_server):
    _rest_framework(settings, DEFAULT_THROTTLE_RATES={"anon": "25/hour", "user": "1000/hour"})
    results = _hammer(f"{live_server.url}/api/ping", clients=8, per_client=10)
    _assert_exact_budget(results, 25)


@pytest.mark.django_db(transaction=True)
def test_key_budget_is_exact_with_concurrent_clients(settings, live_server):
    secret, key = make_key()
    _rest_framework(settings, DEFAULT_THROTTLE_RATES={"anon": "1000/hour", "user": "30/hour"})
    results = _hammer(
        f"{live_server.url}/api/me",
        clients=8,
        per_client=6,
        headers={"Authorization": f"Bearer {secret}"},
    )
    _assert_exact_budget(results, 30)
    # Another key of the same organisation has a budget of its own.
    other, _ = make_key(org=key.organization)
    assert api(other).get("/api/me").status_code == 200


@pytest.mark.django_db
def test_a_forged_forwarded_for_does_not_buy_a_fresh_budget(settings):
    _rest_framework(
        settings,
        DEFAULT_THROTTLE_RATES={"anon": "3/hour", "user": "1000/hour"},
        NUM_PROXIES=0,
    )
    client = api()
    statuses = [
        client.get("/api/ping", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]


@pytest.mark.django_db
def test_behind_one_trusted_proxy_the_address_it_saw_is_the_client(settings):
    _rest_framework(
        settings,
        DEFAULT_THROTTLE_RATES={"anon": "2/hour", "user": "1000/hour"},
        NUM_PROXIES=1,
    )
    client = api()

    def ping(chain):
        return client.get("/api/ping", HTTP_X_FORWARDED_FOR=chain).status_code

    # What the client put first is ignored; the proxy's entry (last) names the client.
    assert [ping(f"10.0.0.{n}, 203.0.113.7") for n in range(3)] == [200, 200, 429]
    assert ping("10.0.0.9, 203.0.113.8") == 200


def test_num_proxies_follows_trusted_proxy_hops():
    env = {**os.environ, "TRUSTED_PROXY_HOPS": "2"}
    code = (
        "import config.settings.base as s;"
        "print(s.REST_FRAMEWORK['NUM_PROXIES'], s.TRUSTED_PROXY_HOPS)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["2", "2"]
    assert django_settings.REST_FRAMEWORK["NUM_PROXIES"] == django_settings.TRUSTED_PROXY_HOPS


@pytest.mark.django_db
def test_certificate_verify_has_a_scoped_budget_per_caller_and_per_ip(settings):
    settings.API_THROTTLE_SCOPES = {
        **django_settings.API_THROTTLE_SCOPES,
        "certificate_verify": {"caller": "2/hour", "ip": "3/hour"},
    }
    anonymous = api()
    body = {"certificate": "x.y.z"}
    first = [
        anonymous.post("/api/certificates/verify", body, format="json").status_code
        for _ in range(3)
    ]
    assert first[:2] != [429, 429] and first[2] == 429
    assert_error(anonymous.post("/api/certificates/verify", body, format="json"), 429, "throttled")
    # Other endpoints are not affected by this scope.
    assert anonymous.get("/api/ping").status_code == 200


@pytest.mark.django_db
def test_costly_budget_per_ip_covers_several_keys(settings):
    settings.API_THROTTLE_SCOPES = {
        **django_settings.API_THROTTLE_SCOPES,
        "orders": {"caller": "2/hour", "ip": "3/hour"},
    }
    first, _ = make_key()
    second, _ = make_key()
    statuses = [api(first).post("/api/orders", {}, format="json").status_code for _ in range(3)]
    assert statuses[2] == 429 and 429 not in statuses[:2]
    # A second key from the same address has one request left of the address's budget.
    assert api(second).post("/api/orders", {}, format="json").status_code != 429
    assert_error(api(second).post("/api/orders", {}, format="json"), 429, "throttled")
