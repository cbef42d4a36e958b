"""No lock is held across a Stripe call: a webhook event is claimed in a short transaction, its
handler fetches from Stripe with no transaction open and applies what it read in a second short
transaction. Driven with a Stripe that hangs (a real HTTP server on loopback that answers only
when the test lets it)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection, transaction
from django.utils import timezone

from contributors.models import PayoutAccount
from contributors.services.payees import payee_for_organization
from contributors.services.payout_accounts import payout_account_ensure
from marketplace.models import StripeEvent
from marketplace.webhooks import stripe_event_dispatch, stripe_events_due, stripe_handler_register
from tests.factories import make_org
from tests.webhooks import stripe_event, stripe_signature, webhook_post

pytestmark = pytest.mark.django_db(transaction=True)


class HangingStripe:
    """Accepts every request and answers 503 only once `release` is set."""

    def __init__(self):
        self.release = threading.Event()
        self.arrived = threading.Event()
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _hang(self):
                outer.requests += 1
                outer.arrived.set()
                outer.release.wait(timeout=60)
                body = b'{"error": {"message": "stripe is having a day", "type": "api_error"}}'
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _hang

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def in_thread(target):
    """Run `target` in a thread with its own database connection; returns (thread, result)."""
    result = {}

    def run():
        try:
            result["value"] = target()
        except BaseException as exc:  # noqa: BLE001 - handed to the test to assert on
            result["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_a_hanging_stripe_fetch_holds_no_lock_and_a_concurrent_delivery_is_answered_at_once(
    settings,
):
    org, _owner = make_org()
    account, _ = payout_account_ensure(payee=payee_for_organization(org), actor=None)
    payload = stripe_event("account.updated", id=account.stripe_account_id, object="account")
    signature = stripe_signature(payload)

    emulator = settings.STRIPE_API_BASE
    with HangingStripe() as stripe:
        settings.STRIPE_API_BASE = stripe.url
        # The first delivery: stored, then processed (Celery runs eagerly in tests, so in the
        # request itself) — its handler's Stripe fetch hangs.
        first, first_result = in_thread(lambda: webhook_post(payload, signature))
        assert stripe.arrived.wait(timeout=30), "the handler never called Stripe"
        event = StripeEvent.objects.get(event_id=json.loads(payload)["id"])
        assert event.status == StripeEvent.Status.PROCESSING and event.attempts == 1

        # While it hangs, nothing is locked: the event and the account row can be taken NOWAIT.
        with transaction.atomic():
            StripeEvent.objects.select_for_update(nowait=True).get(pk=event.pk)
            PayoutAccount.objects.select_for_update(nowait=True).get(pk=account.pk)

        # A concurrent delivery of the same event is answered before the hang ends, and a
        # concurrent run (the retry task) leaves the claimed event alone without calling Stripe.
        second, second_result = in_thread(lambda: webhook_post(payload, signature))
        second.join(timeout=30)
        assert not second.is_alive(), "the second delivery waited for the hanging one"
        assert second_result["value"].status_code == 200
        assert second_result["value"].json()["duplicate"] is True
        rerun, rerun_result = in_thread(lambda: stripe_event_dispatch(event_pk=event.pk))
        rerun.join(timeout=30)
        assert not rerun.is_alive()
        assert rerun_result["value"].status == StripeEvent.Status.PROCESSING
        assert stripe_events_due(limit=10, max_attempts=10) == []  # the claim is live
        assert stripe.requests == 1
        assert first.is_alive(), "the hang ended early; the checks above proved nothing"

        stripe.release.set()
        first.join(timeout=60)
        assert not first.is_alive()
        assert first_result["value"].status_code == 200

    event.refresh_from_db()
    assert event.status == StripeEvent.Status.FAILED
    assert "stripe is having a day" in event.last_error
    assert (event.attempts, event.claimed_until) == (1, None)

    # Stripe is back: the next run processes the event.
    settings.STRIPE_API_BASE = emulator
    assert stripe_event_dispatch(event_pk=event.pk).status == StripeEvent.Status.PROCESSED


def test_an_expired_claim_is_run_again_and_the_stale_run_cannot_overwrite_it():
    org, _owner = make_org()
    account, _ = payout_account_ensure(payee=payee_for_organization(org), actor=None)
    payload = stripe_event("account.updated", id=account.stripe_account_id, object="account")
    event = StripeEvent.objects.create(
        event_id=json.loads(payload)["id"],
        type="account.updated",
        payload=json.loads(payload),
        status=StripeEvent.Status.PROCESSING,
        attempts=1,
        claimed_until=timezone.now(),
    )
    # The claim of a run whose worker died has expired: the periodic task picks it up.
    assert stripe_events_due(limit=10, max_attempts=10) == [event.pk]
    assert stripe_event_dispatch(event_pk=event.pk).status == StripeEvent.Status.PROCESSED
    event.refresh_from_db()
    assert event.attempts == 2 and event.claimed_until is None


def test_a_failed_event_delivered_again_runs_again_at_once():
    calls = []

    def flaky(event):
        calls.append(event.event_id)
        if len(calls) == 1:
            raise RuntimeError("first run fails")

    stripe_handler_register("test.flaky", flaky)
    payload = stripe_event("test.flaky")
    assert webhook_post(payload, stripe_signature(payload)).status_code == 200
    event = StripeEvent.objects.get(event_id=json.loads(payload)["id"])
    assert event.status == StripeEvent.Status.FAILED
    assert webhook_post(payload, stripe_signature(payload)).json()["duplicate"] is True
    event.refresh_from_db()
    assert (event.status, event.attempts, len(calls)) == (StripeEvent.Status.PROCESSED, 2, 2)
    # Processed: a third delivery runs nothing.
    webhook_post(payload, stripe_signature(payload))
    assert len(calls) == 2
