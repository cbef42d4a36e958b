"""/metrics: a bearer token guards it (404 without METRICS_TOKEN), the exposition parses with
prometheus_client's own parser, and the named series carry what happened: requests by route,
Celery tasks by queue and state, business gauges read from the database."""

import subprocess
import sys
import textwrap
import uuid

import pytest
from celery import current_app
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from marketplace.models import StripeEvent
from tests.licensing.conftest import accept_terms, publish
from tests.licensing.test_orders import deliver_committed, pay
from tests.servers import ROOT
from tests.webhooks import stripe_event, stripe_signature, webhook_post

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client: Client | None = None) -> dict:
    """Every sample of /metrics: {(name, frozenset(labels)): value}."""
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def paid_order(provider, buyer, *, request_id: str | None = None) -> dict:
    """A dataset sold the production way: order through the API, paid at the Stripe emulator,
    the webhook posts the sale to the ledger. Returns the order as the API answered it."""
    dataset = publish(
        provider, f"Sold {uuid.uuid4().hex[:6]}", isPaid=True, basePriceCents=1500, currency="usd"
    )
    accept_terms(buyer, dataset)
    headers = {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex}
    if request_id:
        headers["HTTP_X_REQUEST_ID"] = request_id
    response = buyer.client.post(
        "/api/orders", {"datasetId": dataset.public_id}, format="json", **headers
    )
    assert response.status_code == 201, response.json()
    order = response.json()
    order["_response"] = response
    pay(order)
    deliver_committed("payment_intent.succeeded", order["paymentIntentId"])
    return order


def test_no_token_setting_means_no_endpoint(settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
def test_the_token_is_required(token):
    for header in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": TOKEN}):
        response = Client().get("/metrics", **header)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["error"] == "not_authenticated"
        assert TOKEN.encode() not in response.content
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


@pytest.mark.django_db
def test_exposition_parses_and_has_every_named_series(token, provider, buyer):
    order = paid_order(provider, buyer)
    # A Stripe event stored but never processed (its task would run after a commit).
    webhook_post(payload := stripe_event("test.pending"), stripe_signature(payload))
    assert StripeEvent.objects.filter(status="pending").count() == 1
    before = scrape()
    assert buyer.client.get(f"/api/orders/{order['id']}").status_code == 200
    assert buyer.client.get("/api/orders/ord_doesnotexist").status_code == 404

    samples = scrape()
    # By route name, never by path: the two order ids are one series.
    labels = {"view": "licensing:order-detail", "method": "GET"}
    ok = value(samples, "dc_http_requests_total", **labels, status="2xx") or 0
    assert ok - (value(before, "dc_http_requests_total", **labels, status="2xx") or 0) == 1
    assert (value(samples, "dc_http_requests_total", **labels, status="4xx") or 0) - (
        value(before, "dc_http_requests_total", **labels, status="4xx") or 0
    ) == 1
    assert value(samples, "dc_http_request_duration_seconds_count", **labels, status="2xx") == ok
    assert (
        value(samples, "dc_http_request_duration_seconds_bucket", **labels, status="2xx", le="+Inf")
        == ok
    )

    # Business gauges, from the database.
    assert value(samples, "dc_orders", status="paid") == 1
    assert value(samples, "dc_orders", status="refunded") == 0
    assert value(samples, "dc_stripe_events_unprocessed", status="pending") == 1
    assert value(samples, "dc_stripe_events_unprocessed", status="processed") is None
    assert value(samples, "dc_uploads_in_progress") == 0
    assert value(samples, "dc_check_runs", status="passed") >= 1
    assert value(samples, "dc_payout_lines", status="paid") == 0
    assert value(samples, "dc_refund_requests", status="succeeded") == 0
    assert value(samples, "dc_webhook_deliveries_backlog") == 0
    assert value(samples, "dc_ledger_transactions") >= 1  # the sale (and its fee)
    assert 0 <= value(samples, "dc_ledger_head_age_seconds") < 24 * 3600
    for name in ("dc_celery_tasks_total", "dc_celery_task_duration_seconds_count"):
        assert any(k[0] == name for k in samples), name


@pytest.mark.django_db
def test_business_gauges_cost_a_few_queries_then_are_cached(token, settings):
    settings.METRICS_CACHE_SECONDS = 300
    webhook_post(payload := stripe_event("test.one"), stripe_signature(payload))
    with CaptureQueriesContext(connection) as first:
        assert value(scrape(), "dc_stripe_events_unprocessed", status="pending") == 1
    # One query per gauge family, whatever the number of rows.
    assert len(first.captured_queries) == 8, [q["sql"] for q in first.captured_queries]
    webhook_post(payload := stripe_event("test.two"), stripe_signature(payload))
    with CaptureQueriesContext(connection) as second:
        assert value(scrape(), "dc_stripe_events_unprocessed", status="pending") == 1  # cached
    assert second.captured_queries == []
    cache.clear()  # the cache expired
    assert value(scrape(), "dc_stripe_events_unprocessed", status="pending") == 2


@pytest.mark.django_db
def test_task_outcomes_and_durations_by_queue(token):
    before = scrape()
    task = current_app.tasks["marketplace.tasks.celery_heartbeat"]
    assert task.apply().successful()
    assert task.apply(args=["unexpected", "arguments"]).failed()
    after = scrape()
    name = "marketplace.tasks.celery_heartbeat"

    def delta(metric, **labels):
        return (value(after, metric, **labels) or 0) - (value(before, metric, **labels) or 0)

    assert delta("dc_celery_tasks_total", queue="eager", task=name, state="succeeded") == 1
    assert delta("dc_celery_tasks_total", queue="eager", task=name, state="failed") == 1
    assert delta("dc_celery_task_duration_seconds_count", queue="eager") == 2
    assert delta("dc_celery_task_duration_seconds_bucket", queue="eager", le="+Inf") == 2


MULTIPROCESS_CHILD = textwrap.dedent(
    """
    import django, sys
    django.setup()
    from marketplace.observability.metrics import export_registry, request_observe
    from prometheus_client import generate_latest
    if sys.argv[1] == "count":
        for _ in range(int(sys.argv[2])):
            request_observe(view="probe", method="GET", status=200, seconds=0.01)
    else:
        sys.stdout.write(generate_latest(export_registry()).decode())
    """
)


@pytest.mark.django_db
def test_multiprocess_mode_sums_the_web_processes(tmp_path, monkeypatch, settings):
    """Two web processes count requests into PROMETHEUS_MULTIPROC_DIR; a third one's /metrics
    exposition (the same code path) reports their sum."""
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "config.settings.test")
    run = [sys.executable, "-c", MULTIPROCESS_CHILD]
    for n in ("3", "4"):
        subprocess.run([*run, "count", n], cwd=ROOT, check=True, timeout=120)
    out = subprocess.run(
        [*run, "export"], cwd=ROOT, check=True, timeout=120, capture_output=True, text=True
    ).stdout
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(out)
        for s in family.samples
    }
    labels = {"view": "probe", "method": "GET", "status": "2xx"}
    assert value(samples, "dc_http_requests_total", **labels) == 7
    assert value(samples, "dc_http_request_duration_seconds_count", **labels) == 7
