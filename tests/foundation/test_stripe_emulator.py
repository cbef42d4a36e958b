"""The Stripe emulator (devtools.stripe_emulator) as a real process, driven with stripe-python.

No Django and no database: run with `-p no:django` if the settings are not usable."""

import json
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import stripe

from devtools.stripe_emulator.process import run_emulator

API_KEY = "sk_test_emulator"


@pytest.fixture
def client(stripe_emulator_url):
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": stripe_emulator_url}, max_network_retries=0
    )


def unique(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def express_account(client, **params):
    return client.accounts.create(
        params={
            "type": "express",
            "country": "US",
            "email": f"{unique('payee')}@example.com",
            "capabilities": {"transfers": {"requested": True}},
            **params,
        }
    )


def onboarded_account(client, stripe_emulator_url, **params):
    account = express_account(client, **params)
    url = f"{stripe_emulator_url}/_emulator/accounts/{account.id}/complete_onboarding"
    requests.post(url, timeout=10).raise_for_status()
    return client.accounts.retrieve(account.id)


# --- localstripe's own objects ---------------------------------------------------------------


def test_payment_intent_with_test_payment_method_succeeds(client):
    intent = client.payment_intents.create(
        params={
            "amount": 1500,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "metadata": {"order": "o1"},
        }
    )
    assert intent.status == "succeeded"
    assert intent.latest_charge.amount == 1500

    method = client.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    intent = client.payment_intents.create(
        params={"amount": 900, "currency": "usd", "payment_method": method.id}
    )
    assert intent.status == "requires_confirmation"
    assert client.payment_intents.confirm(intent.id).status == "succeeded"


def test_declined_card_raises_card_error(client):
    with pytest.raises(stripe.CardError) as raised:
        client.payment_intents.create(
            params={
                "amount": 500,
                "currency": "usd",
                "payment_method": "pm_card_chargeCustomerFail",
                "confirm": True,
            }
        )
    assert raised.value.code == "card_declined"


def test_refund_of_payment_intent(client):
    intent = client.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    partial = client.refunds.create(params={"payment_intent": intent.id, "amount": 500})
    assert (partial.status, partial.amount) == ("succeeded", 500)
    rest = client.refunds.create(params={"payment_intent": intent.id})
    assert rest.amount == 1500  # what is left of the charge, as Stripe does
    refunds = client.refunds.list(params={"payment_intent": intent.id})
    assert sorted(r.amount for r in refunds.data) == [500, 1500]


# --- Connect accounts and onboarding ---------------------------------------------------------


def test_express_account_onboarding_through_account_link(client, stripe_emulator_url):
    account = express_account(client, metadata={"payee": "p1"})
    assert account.id.startswith("acct_")
    assert (account.object, account.type, account.country) == ("account", "express", "US")
    assert account.payouts_enabled is False
    assert account.details_submitted is False
    assert account.charges_enabled is False
    assert account.capabilities == {"transfers": "inactive"}
    assert "external_account" in account.requirements.currently_due
    assert account.metadata == {"payee": "p1"}

    link = client.account_links.create(
        params={
            "account": account.id,
            "refresh_url": "https://app.example/onboarding/refresh",
            "return_url": "https://app.example/onboarding/done",
            "type": "account_onboarding",
        }
    )
    assert link.object == "account_link"
    assert link.url.startswith(f"{stripe_emulator_url}/_emulator/onboarding/{account.id}")
    assert link.expires_at > link.created

    expired = requests.get(link.url + "&outcome=refresh", allow_redirects=False, timeout=10)
    assert expired.status_code == 302
    assert expired.headers["Location"] == "https://app.example/onboarding/refresh"
    assert client.accounts.retrieve(account.id).payouts_enabled is False

    visit = requests.get(link.url, allow_redirects=False, timeout=10)
    assert visit.status_code == 302
    assert visit.headers["Location"] == "https://app.example/onboarding/done"

    account = client.accounts.retrieve(account.id)
    assert account.payouts_enabled is True
    assert account.details_submitted is True
    assert account.charges_enabled is True
    assert account.capabilities == {"transfers": "active"}
    assert account.requirements.currently_due == []


def test_account_update_list_and_errors(client):
    account = express_account(client, metadata={"a": "1", "b": "2"})
    updated = client.accounts.update(
        account.id, params={"metadata": {"a": "", "c": "3"}, "email": "new@example.com"}
    )
    assert updated.metadata == {"b": "2", "c": "3"}
    assert updated.email == "new@example.com"
    listed = client.accounts.list(params={"limit": 100})
    assert account.id in [a.id for a in listed.data]

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.accounts.retrieve("acct_doesnotexist")
    assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.accounts.create(params={"type": "express", "bogus": "x"})
    assert raised.value.param == "bogus"
    with pytest.raises(stripe.InvalidRequestError):
        client.account_links.create(
            params={"account": "acct_doesnotexist", "type": "account_onboarding"}
        )


# --- Transfers and reversals -----------------------------------------------------------------


def test_transfer_retrieve_list_and_reversals(client, stripe_emulator_url):
    account = onboarded_account(client, stripe_emulator_url)
    group = unique("run")
    transfer = client.transfers.create(
        params={
            "amount": 1000,
            "currency": "usd",
            "destination": account.id,
            "transfer_group": group,
            "metadata": {"payout_line": "42"},
            "description": "payout",
        }
    )
    assert transfer.id.startswith("tr_")
    assert transfer.object == "transfer"
    assert (transfer.amount, transfer.amount_reversed, transfer.reversed) == (1000, 0, False)
    assert (transfer.currency, transfer.destination) == ("usd", account.id)
    assert transfer.reversals.object == "list"
    assert transfer.reversals.data == []

    fetched = client.transfers.retrieve(transfer.id)
    assert (fetched.id, fetched.metadata, fetched.transfer_group) == (
        transfer.id,
        {"payout_line": "42"},
        group,
    )
    other = client.transfers.create(
        params={"amount": 1, "currency": "usd", "destination": account.id}
    )
    in_group = client.transfers.list(params={"transfer_group": group})
    assert [t.id for t in in_group.data] == [transfer.id]
    to_account = client.transfers.list(params={"destination": account.id})
    assert [t.id for t in to_account.data] == [other.id, transfer.id]  # newest first

    partial = client.transfers.reversals.create(transfer.id, params={"amount": 300})
    assert partial.id.startswith("trr_")
    assert (partial.object, partial.amount, partial.transfer) == (
        "transfer_reversal",
        300,
        transfer.id,
    )
    after_partial = client.transfers.retrieve(transfer.id)
    assert (after_partial.amount_reversed, after_partial.reversed) == (300, False)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.transfers.reversals.create(transfer.id, params={"amount": 701})
    assert raised.value.param == "amount"

    rest = client.transfers.reversals.create(transfer.id)
    assert rest.amount == 700
    done = client.transfers.retrieve(transfer.id)
    assert (done.amount_reversed, done.reversed) == (1000, True)
    assert [r.id for r in done.reversals.data] == [rest.id, partial.id]
    listed = client.transfers.reversals.list(transfer.id)
    assert [r.id for r in listed.data] == [rest.id, partial.id]
    assert client.transfers.reversals.retrieve(transfer.id, partial.id).amount == 300

    with pytest.raises(stripe.InvalidRequestError):
        client.transfers.reversals.create(transfer.id, params={"amount": 1})


def test_global_style_stripe_python(stripe_emulator_url, client, monkeypatch):
    monkeypatch.setattr(stripe, "api_key", API_KEY)
    monkeypatch.setattr(stripe, "api_base", stripe_emulator_url)
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    account = onboarded_account(client, stripe_emulator_url)
    transfer = stripe.Transfer.create(amount=250, currency="usd", destination=account.id)
    reversal = stripe.Transfer.create_reversal(transfer.id, amount=50)
    assert reversal.amount == 50
    assert stripe.Transfer.retrieve(transfer.id).amount_reversed == 50
    assert stripe.Account.retrieve(account.id).payouts_enabled is True


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"destination": "acct_doesnotexist"}, "destination"),
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"currency": "dollars"}, "currency"),
        ({"destination": None}, "destination"),
    ],
)
def test_invalid_transfer_refused(client, stripe_emulator_url, params, param):
    account = onboarded_account(client, stripe_emulator_url)
    body = {"amount": 100, "currency": "usd", "destination": account.id, **params}
    body = {k: v for k, v in body.items() if v is not None}
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.transfers.create(params=body)
    assert raised.value.http_status == 400
    assert raised.value.param == param
    assert raised.value.json_body["error"]["type"] == "invalid_request_error"


def test_transfer_to_account_not_onboarded_refused(client):
    account = express_account(client)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.transfers.create(
            params={"amount": 100, "currency": "usd", "destination": account.id}
        )
    assert raised.value.code == "insufficient_capabilities_for_transfer"


def test_failing_account_switch(client, stripe_emulator_url):
    account = onboarded_account(
        client, stripe_emulator_url, metadata={"emulator_fail_transfers": "true"}
    )
    group = unique("run")
    params = {"amount": 100, "currency": "usd", "destination": account.id, "transfer_group": group}
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.transfers.create(params=params)
    assert (raised.value.http_status, raised.value.code) == (400, "balance_insufficient")
    assert client.transfers.list(params={"transfer_group": group}).data == []

    client.accounts.update(account.id, params={"metadata": {"emulator_fail_transfers": ""}})
    assert client.transfers.create(params=params).amount == 100


# --- Idempotency-Key -------------------------------------------------------------------------


def test_same_idempotency_key_replays_the_first_transfer(client, stripe_emulator_url):
    account = onboarded_account(client, stripe_emulator_url)
    group = unique("run")
    params = {"amount": 700, "currency": "usd", "destination": account.id, "transfer_group": group}
    key = unique("payout-line")
    first = client.transfers.create(params=params, options={"idempotency_key": key})
    second = client.transfers.create(params=params, options={"idempotency_key": key})
    assert second.id == first.id
    assert second.last_response.headers.get("Idempotent-Replayed") == "true"
    assert [t.id for t in client.transfers.list(params={"transfer_group": group}).data] == [
        first.id
    ]

    with pytest.raises(stripe.IdempotencyError) as raised:
        client.transfers.create(params={**params, "amount": 701}, options={"idempotency_key": key})
    assert raised.value.http_status == 400
    assert raised.value.json_body["error"]["type"] == "idempotency_error"

    with pytest.raises(stripe.IdempotencyError):  # same key, other endpoint
        client.accounts.create(params={"type": "express"}, options={"idempotency_key": key})

    other_api_key = stripe.StripeClient(
        "sk_test_other", base_addresses={"api": stripe_emulator_url}, max_network_retries=0
    )
    third = other_api_key.transfers.create(params=params, options={"idempotency_key": key})
    assert third.id != first.id  # keys are per API key


def test_idempotency_key_on_localstripe_endpoints_and_errors(client):
    key = unique("customer")
    first = client.customers.create(
        params={"email": "c@example.com"}, options={"idempotency_key": key}
    )
    again = client.customers.create(
        params={"email": "c@example.com"}, options={"idempotency_key": key}
    )
    assert again.id == first.id

    key = unique("transfer")
    params = {"amount": 100, "currency": "usd", "destination": "acct_doesnotexist"}
    for _ in range(2):  # an error is stored and replayed too
        with pytest.raises(stripe.InvalidRequestError):
            client.transfers.create(params=params, options={"idempotency_key": key})


# --- Webhooks and process lifecycle ----------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    received: list

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers["Stripe-Signature"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_account_updated_webhook_is_signed_and_delivered():
    secret = "whsec_emulator_test"
    _Receiver.received = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        with run_emulator() as emulator:  # its own process: webhook configuration is global
            hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/webhooks/stripe"
            requests.post(
                f"{emulator.url}/_config/webhooks/test",
                data={"url": hook_url, "secret": secret, "events[]": ["account.updated"]},
                timeout=10,
            ).raise_for_status()
            client = stripe.StripeClient(API_KEY, base_addresses={"api": emulator.url})
            account = onboarded_account(client, emulator.url)

            deadline = time.monotonic() + 15
            while not _Receiver.received and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _Receiver.received, emulator.output()
    finally:
        receiver.shutdown()
        receiver.server_close()

    (payload, signature), *_ = _Receiver.received
    event = stripe.Webhook.construct_event(payload, signature, secret)
    assert event.type == "account.updated"
    assert event.account == account.id
    assert event.data.object.id == account.id
    assert event.data.object.payouts_enabled is True
    assert json.loads(payload)["data"]["object"]["details_submitted"] is True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_process_stops_cleanly_on_signal(signum):
    with run_emulator() as emulator:
        emulator.process.send_signal(signum)
        assert emulator.process.wait(timeout=10) == 0, emulator.output()


# --- refund events and disputes (disputes.py) -----------------------------------------------


def paid_charge(client, amount=2000):
    intent = client.payment_intents.create(
        params={
            "amount": amount,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    return intent, intent.charges.data[0].id


def test_refunds_default_to_what_is_left_and_never_exceed_the_charge(client):
    intent, charge = paid_charge(client)
    first = client.refunds.create(params={"payment_intent": intent.id, "amount": 500})
    second = client.refunds.create(params={"charge": charge, "reason": "requested_by_customer"})
    assert (first.amount, second.amount) == (500, 1500)  # the rest, not the whole charge
    assert second.reason == "requested_by_customer"
    with pytest.raises(stripe.InvalidRequestError) as nothing_left:
        client.refunds.create(params={"charge": charge, "amount": 1})
    assert nothing_left.value.code == "charge_already_refunded"
    intent, charge = paid_charge(client)
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.refunds.create(params={"charge": charge, "amount": 2001})
    assert too_much.value.code == "amount_too_large" and too_much.value.param == "amount"
    listed = client.refunds.list(params={"created": {"gte": first.created}, "limit": 100})
    assert {first.id, second.id} <= {r.id for r in listed.auto_paging_iter()}
    future = client.refunds.list(params={"created": {"gt": int(time.time()) + 3600}})
    assert future.data == []


def test_dispute_open_retrieve_list_and_close(client, stripe_emulator_url):
    intent, charge = paid_charge(client, 3000)
    opened = requests.post(
        f"{stripe_emulator_url}/_emulator/charges/{charge}/dispute",
        data={"reason": "product_not_received"},
        timeout=10,
    )
    assert opened.status_code == 200, opened.text
    dispute = client.disputes.retrieve(opened.json()["id"])
    assert dispute.id.startswith("dp_") and dispute.charge == charge
    assert (dispute.amount, dispute.status, dispute.reason) == (
        3000,
        "needs_response",
        "product_not_received",
    )
    [withdrawal] = dispute.balance_transactions
    assert (withdrawal.amount, withdrawal.fee, withdrawal.net) == (-3000, 1500, -4500)
    assert withdrawal.id.startswith("txn_")
    listed = client.disputes.list(params={"created": {"gte": dispute.created}, "limit": 100})
    assert dispute.id in {d.id for d in listed.auto_paging_iter()}
    assert client.disputes.list(params={"charge": charge}).data[0].id == dispute.id
    fees = client.balance_transactions.list(params={"created": {"gte": dispute.created}})
    assert withdrawal.id in {t.id for t in fees.auto_paging_iter()}
    # Disputed money cannot also be refunded; a second dispute of the charge is refused.
    with pytest.raises(stripe.InvalidRequestError):
        client.refunds.create(params={"charge": charge})
    again = requests.post(
        f"{stripe_emulator_url}/_emulator/charges/{charge}/dispute", data={}, timeout=10
    )
    assert again.status_code == 400 and again.json()["error"]["message"]

    bad = requests.post(
        f"{stripe_emulator_url}/_emulator/disputes/{dispute.id}/close",
        data={"status": "maybe"},
        timeout=10,
    )
    assert bad.status_code == 400
    closed = requests.post(
        f"{stripe_emulator_url}/_emulator/disputes/{dispute.id}/close",
        data={"status": "won"},
        timeout=10,
    )
    assert closed.json()["status"] == "won"
    dispute = client.disputes.retrieve(dispute.id)
    assert [t.amount for t in dispute.balance_transactions] == [-3000, 3000]
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.disputes.retrieve("dp_missing")
    assert missing.value.http_status == 404


def _receive(emulator_url, secret, events):
    """A receiver registered at the emulator for `events`; returns (server, received list)."""
    _Receiver.received = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    requests.post(
        f"{emulator_url}/_config/webhooks/test",
        data={
            "url": f"http://127.0.0.1:{receiver.server_address[1]}/webhooks/stripe",
            "secret": secret,
            "events[]": events,
        },
        timeout=10,
    ).raise_for_status()
    return receiver


def _events(secret, count, emulator):
    deadline = time.monotonic() + 15
    while len(_Receiver.received) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_Receiver.received) >= count, emulator.output()
    return [stripe.Webhook.construct_event(p, s, secret) for p, s in _Receiver.received]


def test_refund_and_dispute_events_are_signed_and_delivered():
    secret = "whsec_emulator_test"
    with run_emulator() as emulator:  # its own process: webhook configuration is global
        receiver = _receive(
            emulator.url,
            secret,
            [
                "refund.created",
                "refund.updated",
                "charge.refunded",
                "charge.dispute.created",
                "charge.dispute.funds_withdrawn",
                "charge.dispute.closed",
            ],
        )
        try:
            client = stripe.StripeClient(API_KEY, base_addresses={"api": emulator.url})
            intent, charge = paid_charge(client)
            refund = client.refunds.create(params={"payment_intent": intent.id, "amount": 700})
            events = _events(secret, 3, emulator)
            assert sorted(e.type for e in events) == [
                "charge.refunded",
                "refund.created",
                "refund.updated",
            ]
            by_type = {e.type: e for e in events}
            assert by_type["refund.created"].data.object.id == refund.id
            assert by_type["charge.refunded"].data.object.id == charge
            assert by_type["charge.refunded"].data.object.amount_refunded == 700

            _Receiver.received = []
            dispute = requests.post(
                f"{emulator.url}/_emulator/charges/{charge}/dispute", timeout=10
            ).json()
            assert dispute["amount"] == 1300  # what the refund left
            events = _events(secret, 2, emulator)
            assert sorted(e.type for e in events) == [
                "charge.dispute.created",
                "charge.dispute.funds_withdrawn",
            ]
            _Receiver.received = []
            requests.post(
                f"{emulator.url}/_emulator/disputes/{dispute['id']}/close",
                data={"status": "lost"},
                timeout=10,
            ).raise_for_status()
            [closed] = _events(secret, 1, emulator)
            assert closed.type == "charge.dispute.closed"
            assert closed.data.object.status == "lost" and closed.data.object.id == dispute["id"]

        finally:
            receiver.shutdown()
            receiver.server_close()
