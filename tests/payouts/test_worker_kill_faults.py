"""A Celery worker killed with SIGKILL (its whole process group) in the middle of a payout run
and in the middle of a webhook; after a restart the results are exactly once: one Stripe
transfer per payout line (counted at the emulator), one sale and one grant per payment.

The kill lands where it hurts most: Stripe has acted but its answer never reached the worker
(a proxy in front of the emulator throws the answers away), so the worker hangs in the call
with the line `sending` / the event `processing` when it dies."""

import os
import signal
import time
import uuid
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.test import Client

from config.celery import app
from devtools.processes import stop
from licensing.models import Grant, Order
from marketplace.models import StripeEvent
from payouts.models import JournalTransaction, PayoutLine
from payouts.services.runs import payout_run_create
from tests.catalogue_helpers import api
from tests.licensing.conftest import accept_terms, publish
from tests.licensing.test_orders import pay
from tests.marketplace.test_ingestion_worker_kill import TimedOut, start_worker, wait_for
from tests.payouts.conftest import payee_of, set_shares
from tests.payouts.test_payout_runs import (
    assert_books_ok,
    enable_payouts,
    sell_and_release,
    transfers_of,
)
from tests.proxies import AnswerLosingProxy
from tests.webhooks import stripe_event, stripe_signature


def worker_env(queue: str, stripe_base: str) -> dict:
    db = settings.DATABASES["default"]
    return dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        AWS_S3_ENDPOINT_URL=settings.AWS_S3_ENDPOINT_URL,
        STRIPE_API_BASE=stripe_base,
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_TASK_DEFAULT_QUEUE=queue,
        # Short, so the restarted worker restores the dead worker's unacknowledged message now.
        CELERY_VISIBILITY_TIMEOUT="2",
        INGESTION_VISIBILITY_TIMEOUT="2",
        # A line / an event claimed by the dead worker may be taken over this soon.
        PAYOUT_SENDING_LEASE_SECONDS="1",
        STRIPE_EVENT_LEASE_SECONDS="1",
    )


class RealBroker:
    """Tasks sent from this process go to the test's own queue, for real workers."""

    def __init__(self, queue: str):
        self.queue = queue

    def __enter__(self):
        self.routes = app.conf.task_routes
        app.conf.CELERY_TASK_ALWAYS_EAGER = False
        app.conf.update(
            task_routes=(
                {"marketplace.tasks.*": {"queue": self.queue}, "*": {"queue": self.queue}},
            )
        )
        return self

    def __exit__(self, *exc):
        app.conf.CELERY_TASK_ALWAYS_EAGER = True
        app.conf.update(task_routes=self.routes)


def kill_then_restart(worker, env, *, finished, what: str):
    """SIGKILL the worker's whole process group, start a new one, wait for `finished`."""
    first_log = stop(worker, sig=signal.SIGKILL, timeout=30)
    # Restarted once the visibility timeout (2 s) has passed, as a supervisor restarts a worker
    # after a moment: the new worker's first poll restores the dead one's message (kombu
    # otherwise looks again only every ~100 s).
    time.sleep(3)
    worker = start_worker(env)
    try:
        wait_for(finished, 180, what)
    except TimedOut as exc:
        raise AssertionError(
            f"{exc}\n--- first worker ---\n{first_log[-2000:]}\n--- restarted worker ---\n"
            f"{stop(worker, timeout=30)[-3000:]}"
        ) from exc
    return worker


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_payout_run_pays_each_line_exactly_once(version, seller, settings):
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 100}
    emails = [f"k{n}@example.com" for n in range(9)]
    table = set_shares(
        version, seller.owner, [("org", 1)] + [(e, 1) for e in emails], basis="weight"
    )
    for who in ["org", *emails]:
        enable_payouts(payee_of(table, who))
    sell_and_release(version, refs=[f"kill{n}" for n in range(2)], gross_cents=10 * 300)
    run = payout_run_create(currency="usd")
    assert run.line_count == 10

    queue = f"payout-kill-{uuid.uuid4().hex[:8]}"
    # The 4th transfer is made at Stripe, its answer lost: the worker hangs in that call.
    proxy = AnswerLosingProxy(
        urlparse(settings.STRIPE_API_BASE).port, marker=b"POST /v1/transfers", lose_after=4
    )
    worker = start_worker(worker_env(queue, proxy.url))
    try:
        with RealBroker(queue):
            from payouts.tasks import payout_run_execute

            payout_run_execute.delay(run.pk)
            wait_for(
                lambda: proxy.losing.is_set()
                and PayoutLine.objects.filter(run=run, status="sending").exists(),
                90,
                "the worker to hang in a transfer whose answer is lost",
            )
            done_before = PayoutLine.objects.filter(run=run, status__in=["sent", "paid"]).count()
            assert done_before == 3
            worker = kill_then_restart(
                worker,
                worker_env(queue, settings.STRIPE_API_BASE),
                finished=lambda: not PayoutLine.objects.filter(
                    run=run, status__in=["pending", "sending"]
                ).exists(),
                what="the restarted worker to finish the run",
            )
    finally:
        log = stop(worker, timeout=30)
        proxy.close()

    lines = list(run.lines.all())
    assert all(line.status in ("sent", "paid") for line in lines), log[-3000:]
    transfers = transfers_of(run)
    assert sorted(t.metadata["payout_line"] for t in transfers) == sorted(
        str(line.pk) for line in lines
    )  # one transfer per line, the lost-answer one included
    assert {t.id for t in transfers} == {line.transfer_id for line in lines}
    assert JournalTransaction.objects.filter(kind="payout").count() == 10
    assert_books_ok()


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_webhook_applies_the_payment_exactly_once(provider, buyer, settings):
    dataset = publish(provider, "Webhook kill", isPaid=True, basePriceCents=1500)
    accept_terms(buyer, dataset)
    order = api(buyer.secret).post(
        "/api/orders",
        {"datasetId": dataset.public_id},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert order.status_code == 201, order.json()
    order = order.json()
    pay(order)

    queue = f"webhook-kill-{uuid.uuid4().hex[:8]}"
    # The handler's fetch of the PaymentIntent reaches Stripe; its answer never comes back.
    proxy = AnswerLosingProxy(urlparse(settings.STRIPE_API_BASE).port)
    proxy.lose_answers()
    worker = start_worker(worker_env(queue, proxy.url))
    payload = stripe_event("payment_intent.succeeded", id=order["paymentIntentId"], object="x")
    try:
        with RealBroker(queue):
            response = Client().post(
                "/webhooks/stripe",
                data=payload,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=stripe_signature(payload),
            )
            assert response.status_code == 200
            event = StripeEvent.objects.get(event_id=response.json()["id"])
            wait_for(
                lambda: StripeEvent.objects.filter(pk=event.pk, status="processing").exists(),
                90,
                "the worker to claim the event",
            )
            assert Order.objects.get(public_id=order["id"]).status == "pending"
            worker = kill_then_restart(
                worker,
                worker_env(queue, settings.STRIPE_API_BASE),
                finished=lambda: StripeEvent.objects.filter(
                    pk=event.pk, status="processed"
                ).exists(),
                what="the restarted worker to process the event",
            )
            # The same event delivered again (Stripe retries): still once.
            again = Client().post(
                "/webhooks/stripe",
                data=payload,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=stripe_signature(payload),
            )
            assert again.json()["duplicate"] is True
    finally:
        log = stop(worker, timeout=30)
        proxy.close()

    paid = Order.objects.get(public_id=order["id"])
    assert paid.status == "paid", log[-3000:]
    assert Grant.objects.filter(order_ref=paid.public_id).count() == 1
    assert JournalTransaction.objects.filter(kind="sale").count() == 1
    assert_books_ok()
