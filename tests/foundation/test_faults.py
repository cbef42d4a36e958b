"""Dependencies down, frozen or forgetful, against the real local servers (issue 11, D4 and D6).

"Down": the setting points at a port where nothing listens. "Frozen": a socket that accepts
connections and never answers. "Lost": storage aborted a multipart upload behind our back.
Every answer is the JSON envelope with a 5xx/4xx that tells the client what to do, nothing is
half-written, and the same request works again once the dependency is back."""

import hashlib
import socket
import uuid

import pytest
import requests

from licensing.models import DownloadSession, Order
from marketplace.models import AuditEvent, FileUpload
from marketplace.payments import stripe_client
from marketplace.storage import bucket, s3_client
from tests.assertions import assert_error
from tests.catalogue_helpers import DATASHEET, api, make_archive, upload_bytes
from tests.licensing.conftest import accept_terms, publish
from tests.proxies import AnswerLosingProxy

MiB = 1024 * 1024


@pytest.fixture
def frozen_port():
    """Accepts connections (the kernel completes handshakes on the backlog), never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@pytest.fixture
def dead_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens


@pytest.fixture
def fast_timeouts(settings):
    """Small bounds (seconds), so the frozen cases answer quickly; the production defaults keep
    attempts x (connect + read) + backoff under 30 s."""
    settings.STORAGE_CONNECT_TIMEOUT_SECONDS = 0.5
    settings.STORAGE_READ_TIMEOUT_SECONDS = 0.5
    settings.STORAGE_MAX_ATTEMPTS = 2
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 0.5
    settings.STORAGE_PROBE_CACHE_SECONDS = 0
    settings.STRIPE_CONNECT_TIMEOUT_SECONDS = 0.5
    settings.STRIPE_READ_TIMEOUT_SECONDS = 0.5
    settings.STRIPE_MAX_NETWORK_RETRIES = 1
    settings.DOWNLOAD_URL_REUSE_SECONDS = 0
    return settings


def test_production_bounds_answer_within_30_seconds():
    """The arithmetic the defaults promise (configuration, not a stopwatch)."""
    from config.settings import base

    storage = base.STORAGE_MAX_ATTEMPTS * (
        base.STORAGE_CONNECT_TIMEOUT_SECONDS + base.STORAGE_READ_TIMEOUT_SECONDS
    )
    stripe = (base.STRIPE_MAX_NETWORK_RETRIES + 1) * (
        base.STRIPE_CONNECT_TIMEOUT_SECONDS + base.STRIPE_READ_TIMEOUT_SECONDS
    )
    assert storage + 2 < 30 and stripe + 3 < 30  # + the SDKs' backoff between attempts


def test_every_outbound_client_is_bounded(fast_timeouts):
    config = s3_client().meta.config
    assert (config.connect_timeout, config.read_timeout) == (0.5, 0.5)
    assert config.retries["total_max_attempts"] == 2
    client = stripe_client()
    requestor = client._requestor
    assert requestor._client._timeout == (0.5, 0.5)
    assert requestor._options.max_network_retries == 1


@pytest.fixture
def draft(provider):
    client = api(provider.secret)
    sid = client.post("/api/submissions", {"name": "Faulty"}, format="json").json()["submission"][
        "id"
    ]
    assert client.patch(f"/api/submissions/{sid}", DATASHEET, format="json").status_code == 200
    return client, sid


def start_body(sid, data):
    return {
        "submissionId": sid,
        "filename": "data.tar.gz",
        "fileSize": len(data),
        "mimeType": "application/gzip",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("fault", ["down", "frozen"])
def test_upload_start_part_url_and_completion_with_storage_unreachable(
    fault, draft, settings, fast_timeouts, frozen_port, dead_port
):
    client, sid = draft
    data = make_archive(64 * 1024)
    store = settings.AWS_S3_ENDPOINT_URL
    unreachable = f"http://127.0.0.1:{dead_port if fault == 'down' else frozen_port}"

    # Start: 503, no upload row, no audit row.
    settings.AWS_S3_ENDPOINT_URL = unreachable
    assert_error(
        client.post("/api/uploads", start_body(sid, data), format="json"),
        503,
        "storage_unavailable",
    )
    assert not FileUpload.objects.filter(submission__public_id=sid).exists()
    assert not AuditEvent.objects.filter(action="upload.start").exists()

    # Back: it works, and the part URL and the completion fail cleanly while storage is away.
    settings.AWS_S3_ENDPOINT_URL = store
    start = client.post("/api/uploads", start_body(sid, data), format="json")
    assert start.status_code == 201, start.json()
    fid = start.json()["fileUploadId"]

    settings.AWS_S3_ENDPOINT_URL = unreachable
    assert_error(client.get(f"/api/uploads/{fid}/parts/1"), 503, "storage_unavailable")
    settings.AWS_S3_ENDPOINT_URL = store
    url = client.get(f"/api/uploads/{fid}/parts/1").json()["url"]
    put = requests.put(url, data=data, timeout=30)
    assert put.status_code == 200
    body = {
        "uploadId": start.json()["uploadId"],
        "parts": [{"partNumber": 1, "etag": put.headers["ETag"].strip('"')}],
        "checksum": hashlib.sha256(data).hexdigest(),
    }

    settings.AWS_S3_ENDPOINT_URL = unreachable
    assert_error(client.post(f"/api/uploads/{fid}", body, format="json"), 503)
    upload = FileUpload.objects.get(public_id=fid)
    assert upload.state == FileUpload.State.UPLOADING  # nothing half-written

    settings.AWS_S3_ENDPOINT_URL = store
    done = client.post(f"/api/uploads/{fid}", body, format="json")
    assert done.status_code == 200, done.json()
    upload.refresh_from_db()
    assert upload.state == FileUpload.State.COMPLETED


@pytest.mark.django_db
def test_a_multipart_upload_lost_by_storage_is_410_and_a_new_one_works(draft):
    client, sid = draft
    data = make_archive(64 * 1024)
    start = client.post("/api/uploads", start_body(sid, data), format="json").json()
    url = client.get(f"/api/uploads/{start['fileUploadId']}/parts/1").json()["url"]
    put = requests.put(url, data=data, timeout=30)
    upload = FileUpload.objects.get(public_id=start["fileUploadId"])
    # Storage forgets it (a lifecycle rule, an operator, a store restored from backup).
    s3_client().abort_multipart_upload(
        Bucket=bucket(), Key=upload.key, UploadId=upload.storage_upload_id
    )

    assert_error(client.get(f"/api/uploads/{start['fileUploadId']}/parts/1"), 410, "upload_lost")
    body = {
        "uploadId": start["uploadId"],
        "parts": [{"partNumber": 1, "etag": put.headers["ETag"].strip('"')}],
        "checksum": hashlib.sha256(data).hexdigest(),
    }
    assert_error(client.post(f"/api/uploads/{start['fileUploadId']}", body, format="json"), 410)
    upload.refresh_from_db()
    assert upload.state == FileUpload.State.UPLOADING

    # What the SDK does on 410: start over.
    upload_bytes(client, sid, data)
    assert FileUpload.objects.filter(
        submission__public_id=sid, state=FileUpload.State.COMPLETED
    ).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("fault", ["down", "frozen"])
def test_download_session_is_not_issued_while_storage_is_unreachable(
    fault, provider, buyer, settings, fast_timeouts, frozen_port, dead_port
):
    dataset = publish(provider, f"Downloadable {fault}")
    accept_terms(buyer, dataset)
    store = settings.AWS_S3_ENDPOINT_URL
    settings.AWS_S3_ENDPOINT_URL = (
        f"http://127.0.0.1:{dead_port if fault == 'down' else frozen_port}"
    )
    response = buyer.client.post(f"/api/datasets/{dataset.public_id}/download")
    assert_error(response, 503, "storage_unavailable")
    assert not DownloadSession.objects.exists()

    settings.AWS_S3_ENDPOINT_URL = store
    response = buyer.client.post(f"/api/datasets/{dataset.public_id}/download")
    assert response.status_code == 200, response.json()
    assert DownloadSession.objects.count() == 1


def emulator_intents(stripe_url: str, order_id: str) -> list[dict]:
    """PaymentIntents at the emulator carrying this order's id (asked of the emulator itself)."""
    found, params = [], {"limit": 100}
    while True:
        page = requests.get(
            f"{stripe_url}/v1/payment_intents",
            params=params,
            headers={"Authorization": "Bearer sk_test_datacollective_local"},
            timeout=10,
        ).json()
        found += [i for i in page["data"] if (i.get("metadata") or {}).get("order_id") == order_id]
        if not page.get("has_more") or not page["data"]:
            return found
        params["starting_after"] = page["data"][-1]["id"]


@pytest.mark.django_db
@pytest.mark.parametrize("fault", ["down", "frozen"])
def test_order_with_stripe_unreachable_is_503_without_orphan_then_one_payment_intent(
    fault, provider, buyer, settings, fast_timeouts, frozen_port, dead_port, stripe_emulator_url
):
    dataset = publish(provider, f"Paid {fault}", isPaid=True, basePriceCents=900, currency="usd")
    accept_terms(buyer, dataset)
    key = uuid.uuid4().hex
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{dead_port if fault == 'down' else frozen_port}"

    def order():
        return buyer.client.post(
            "/api/orders", {"datasetId": dataset.public_id}, format="json", HTTP_IDEMPOTENCY_KEY=key
        )

    assert_error(order(), 503, "payment_provider_unavailable")
    assert_error(order(), 503, "payment_provider_unavailable")  # a retry while still down
    assert not Order.objects.exists()
    # The audit log is append-only: each discarded attempt is recorded after its creation.
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    orders = [a for a in actions if a.startswith("order.")]
    assert orders == ["order.create", "order.discard"] * 2

    settings.STRIPE_API_BASE = stripe_emulator_url
    first = order()
    assert first.status_code == 201, first.json()
    again = order()
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["paymentIntentId"] == first.json()["paymentIntentId"]
    assert Order.objects.count() == 1
    intents = emulator_intents(stripe_emulator_url, first.json()["id"])
    assert [i["id"] for i in intents] == [first.json()["paymentIntentId"]]


@pytest.mark.django_db
def test_order_whose_stripe_answer_is_lost_gets_the_same_payment_intent_on_retry(
    provider, buyer, settings, fast_timeouts, stripe_emulator_url
):
    """Stripe created the PaymentIntent but its answer never came back: 503 and no order; the
    retry with the same Idempotency-Key gets that very PaymentIntent (one at the emulator)."""
    from urllib.parse import urlparse

    dataset = publish(provider, "Paid lost answer", isPaid=True, basePriceCents=700)
    accept_terms(buyer, dataset)
    key = uuid.uuid4().hex
    proxy = AnswerLosingProxy(urlparse(stripe_emulator_url).port)
    proxy.lose_answers()
    settings.STRIPE_API_BASE = proxy.url
    try:
        response = buyer.client.post(
            "/api/orders", {"datasetId": dataset.public_id}, format="json", HTTP_IDEMPOTENCY_KEY=key
        )
    finally:
        proxy.close()
    assert_error(response, 503, "payment_provider_unavailable")
    assert not Order.objects.exists()

    settings.STRIPE_API_BASE = stripe_emulator_url
    response = buyer.client.post(
        "/api/orders", {"datasetId": dataset.public_id}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 201, response.json()
    intents = emulator_intents(stripe_emulator_url, response.json()["id"])
    assert [i["id"] for i in intents] == [response.json()["paymentIntentId"]]
