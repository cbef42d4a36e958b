"""Structured logs: one JSON line per request and per Celery task, with the request id, which
follows the request into the tasks it enqueues (a real worker) and into the Stripe objects it
creates (the emulator's stored metadata)."""

import json
import logging
import os
import re
import uuid

import pytest
from celery import current_app
from django.conf import settings
from django.test import Client

from devtools.processes import stop
from licensing.models import Order
from licensing.services.orders import _payment_intent_attach
from marketplace.models import StripeEvent
from marketplace.observability.logs import REQUEST_LOGGER, JsonFormatter, ReadableFormatter
from marketplace.observability.request_id import request_id_reset, request_id_set
from marketplace.payments import stripe_client
from tests.marketplace.test_ingestion_worker_kill import start_worker, wait_for
from tests.ops.test_metrics import TOKEN, paid_order, scrape, value
from tests.webhooks import stripe_event, stripe_signature


class Lines(logging.Handler):
    """The JSON lines a logger writes, formatted as production formats them."""

    def __init__(self):
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def request_lines():
    handler = Lines()
    logger = logging.getLogger(REQUEST_LOGGER)
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


@pytest.mark.django_db
def test_one_json_line_per_request_with_its_id_user_and_organisation(request_lines, buyer):
    response = buyer.client.get("/api/orders", HTTP_X_REQUEST_ID="lb-7f3a9c21-0001")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "lb-7f3a9c21-0001"
    (line,) = request_lines
    assert line["request_id"] == "lb-7f3a9c21-0001"
    assert line["method"] == "GET" and line["path"] == "/api/orders"
    assert line["route"] == "licensing:orders"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["user_id"] == buyer.user.pk
    assert line["org_id"] == buyer.org.pk
    assert line["level"] == "INFO" and line["logger"] == REQUEST_LOGGER


@pytest.mark.django_db
@pytest.mark.parametrize("incoming", ["", "short", "has spaces in it", "x" * 200, 'q"uote1234'])
def test_an_insane_incoming_id_is_replaced_by_ours(request_lines, incoming):
    headers = {"HTTP_X_REQUEST_ID": incoming} if incoming else {}
    response = Client().get("/api/datasets", **headers)
    ours = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", ours)
    assert request_lines[-1]["request_id"] == ours
    assert request_lines[-1]["user_id"] is None and request_lines[-1]["org_id"] is None


def test_readable_format_names_the_fields():
    record = logging.LogRecord(REQUEST_LOGGER, logging.INFO, __file__, 1, "GET /x 200", (), None)
    record.fields = {"status": 200, "duration_ms": 1.5, "user_id": None}
    token = request_id_set("rid-abcdef12")
    try:
        text = ReadableFormatter().format(record)
    finally:
        request_id_reset(token)
    assert "GET /x 200 status=200 duration_ms=1.5" in text
    assert "user_id" not in text and "[rid-abcdef12]" in text


@pytest.fixture
def worker_queue(transactional_db):
    """A real worker consuming queues of its own; the test process publishes to them."""
    queue = f"logs-{uuid.uuid4().hex[:8]}"
    db = settings.DATABASES["default"]
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        AWS_S3_ENDPOINT_URL=settings.AWS_S3_ENDPOINT_URL,
        STRIPE_API_BASE=settings.STRIPE_API_BASE,
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_TASK_DEFAULT_QUEUE=queue,
        LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
    )
    conf = current_app.conf  # read through the CELERY_ namespace of the Django settings
    saved = conf.CELERY_TASK_ALWAYS_EAGER, conf.CELERY_TASK_DEFAULT_QUEUE
    conf.CELERY_TASK_ALWAYS_EAGER, conf.CELERY_TASK_DEFAULT_QUEUE = False, queue
    worker = start_worker(env)
    try:
        yield queue, worker
    finally:
        conf.CELERY_TASK_ALWAYS_EAGER, conf.CELERY_TASK_DEFAULT_QUEUE = saved
        stop(worker, timeout=30)


def task_lines(output: str) -> list[dict]:
    lines = []
    for raw in output.splitlines():
        raw = raw.strip()
        if raw.startswith("{") and '"datacollective.task"' in raw:
            lines.append(json.loads(raw))
    return lines


@pytest.mark.timeout(300)
def test_the_request_id_reaches_the_task_log_line_in_a_real_worker(worker_queue, settings):
    queue, worker = worker_queue
    settings.METRICS_TOKEN = TOKEN
    request_id = f"purchase-{uuid.uuid4().hex[:12]}"
    payload = stripe_event("test.observed")
    response = Client().post(
        "/webhooks/stripe",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=stripe_signature(payload),
        HTTP_X_REQUEST_ID=request_id,
    )
    assert response.status_code == 200 and response["X-Request-ID"] == request_id
    event_id = json.loads(payload)["id"]
    wait_for(
        lambda: StripeEvent.objects.filter(event_id=event_id, status="processed").exists(),
        120,
        "the worker to process the event",
    )
    samples = scrape()
    output = stop(worker, timeout=30)
    (line,) = [
        x for x in task_lines(output) if x["task"] == "marketplace.tasks.stripe_event_process"
    ]
    assert line["request_id"] == request_id, output[-3000:]
    assert line["queue"] == f"{queue}.accounting"
    assert line["state"] == "succeeded" and line["duration_ms"] >= 0
    # The worker's count reached the web's /metrics through Redis.
    counted = value(
        samples,
        "dc_celery_tasks_total",
        queue=f"{queue}.accounting",
        task="marketplace.tasks.stripe_event_process",
        state="succeeded",
    )
    assert counted == 1


@pytest.mark.django_db
def test_the_request_id_is_in_the_stripe_metadata_of_the_purchase(provider, buyer):
    request_id = f"buy-{uuid.uuid4().hex[:12]}"
    order = paid_order(provider, buyer, request_id=request_id)
    assert order["_response"]["X-Request-ID"] == request_id
    intent = stripe_client().payment_intents.retrieve(order["paymentIntentId"])
    assert intent.metadata["request_id"] == request_id
    assert intent.metadata["order_id"] == order["id"]


@pytest.mark.django_db
def test_a_retry_from_another_request_sends_the_first_attempts_id(provider, buyer):
    """Stripe refuses a repeated idempotency key whose parameters differ: a retry of the same
    PaymentIntent creation from another request must send the same metadata."""
    order = paid_order(provider, buyer, request_id="first-attempt-0001")
    row = Order.objects.get(public_id=order["id"])
    token = request_id_set("second-attempt-0002")
    try:
        _payment_intent_attach(row)  # the same key: replayed by Stripe, not refused
    finally:
        request_id_reset(token)
    row.refresh_from_db()
    assert row.payment_intent_id == order["paymentIntentId"]
    intent = stripe_client().payment_intents.retrieve(row.payment_intent_id)
    assert intent.metadata["request_id"] == "first-attempt-0001"
