"""Payout accounts: Stripe Connect Express onboarding against the Stripe emulator, and the
`account.updated` webhook through the real receiver."""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import stripe
from django.conf import settings
from django.db import connection

from contributors.models import PayoutAccount
from contributors.services.invitations import contributor_claim
from contributors.services.payout_accounts import organization_payout_account_start
from devtools.processes import free_port
from marketplace.actors import actor_for_member
from marketplace.models import AuditEvent, StripeEvent
from tests.catalogue_helpers import api
from tests.contributors.conftest import emulator_events, shares_url
from tests.factories import make_key, make_org
from tests.parties import claim_token, verified_address

pytestmark = pytest.mark.django_db


def stripe_accounts_of_payee(payee_id) -> list:
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE}
    )
    accounts = client.accounts.list(params={"limit": 100})
    return [a for a in accounts.auto_paging_iter() if a.metadata.get("payee_id") == str(payee_id)]


def complete_onboarding(account_id):
    url = f"{settings.STRIPE_API_BASE}/_emulator/accounts/{account_id}/complete_onboarding"
    requests.post(url, timeout=10).raise_for_status()


@pytest.fixture
def org_owner():
    secret, key = make_key()
    return api(secret), key


def test_onboarding_flow_until_payouts_are_enabled_by_the_webhook(
    org_owner, deliver, stripe_emulator_url, settings
):
    settings.PUBLIC_BASE_URL = "https://collective.example"
    client, key = org_owner
    assert client.get("/api/payout-account").json() == {
        "accountId": None,
        "status": "none",
        "detailsSubmitted": False,
        "payoutsEnabled": False,
    }

    response = client.post("/api/payout-account", {}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    account_id = body["accountId"]
    assert account_id.startswith("acct_")
    assert (body["payoutsEnabled"], body["detailsSubmitted"], body["status"]) == (
        False,
        False,
        "onboarding",
    )
    link = urlsplit(body["onboardingUrl"])
    assert f"{link.scheme}://{link.netloc}" == stripe_emulator_url
    assert link.path == f"/_emulator/onboarding/{account_id}"
    query = parse_qs(link.query)
    assert query["return_url"] == ["https://collective.example/payout-account/return"]
    assert query["refresh_url"] == ["https://collective.example/payout-account/refresh"]

    stored = PayoutAccount.objects.get(stripe_account_id=account_id)
    assert stored.payee.organization == key.organization
    [remote] = stripe_accounts_of_payee(stored.payee_id)
    assert (remote.id, remote.type, remote.metadata["payee_kind"]) == (
        account_id,
        "express",
        "organization",
    )
    assert AuditEvent.objects.filter(action="payout_account.create", actor=key.user).exists()

    complete_onboarding(account_id)
    # Nothing changes on our side until Stripe tells us.
    assert client.get("/api/payout-account").json()["payoutsEnabled"] is False

    [event] = emulator_events(
        stripe_emulator_url, event_type="account.updated", object_id=account_id
    )
    deliver(event)
    status = client.get("/api/payout-account").json()
    assert status == {
        "accountId": account_id,
        "status": "enabled",
        "detailsSubmitted": True,
        "payoutsEnabled": True,
    }
    stored_event = StripeEvent.objects.get(event_id=json.loads(event)["id"])
    assert stored_event.status == StripeEvent.Status.PROCESSED
    assert (
        AuditEvent.objects.filter(action="payout_account.update", object_id=str(stored.pk)).count()
        == 1
    )

    # A replayed event changes nothing and writes no second audit row.
    deliver(event)
    assert StripeEvent.objects.filter(event_id=json.loads(event)["id"]).count() == 1
    assert AuditEvent.objects.filter(action="payout_account.update").count() == 1


def test_two_posts_make_one_stripe_account(org_owner):
    client, key = org_owner
    first = client.post("/api/payout-account", {}, format="json")
    second = client.post("/api/payout-account", {"country": "de"}, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["accountId"] == second.json()["accountId"]
    assert second.json()["onboardingUrl"]
    payee = key.organization.payee
    assert PayoutAccount.objects.filter(payee=payee).count() == 1
    assert len(stripe_accounts_of_payee(payee.pk)) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_posts_make_one_stripe_account():
    org, owner = make_org()

    def start(_):
        try:
            return organization_payout_account_start(
                actor=actor_for_member(user=owner, organization=org)
            ).account.pk
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        account_pks = set(pool.map(start, range(4)))
    assert len(account_pks) == 1
    account = PayoutAccount.objects.get()
    assert [a.id for a in stripe_accounts_of_payee(account.payee_id)] == [account.stripe_account_id]


def test_the_webhook_trusts_stripe_not_the_event_body(org_owner, deliver):
    client, _ = org_owner
    account_id = client.post("/api/payout-account", {}, format="json").json()["accountId"]
    forged = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "account.updated",
        "created": int(time.time()),
        "livemode": False,
        "data": {
            "object": {
                "id": account_id,
                "object": "account",
                "payouts_enabled": True,
                "details_submitted": True,
            }
        },
    }
    deliver(json.dumps(forged).encode())
    assert client.get("/api/payout-account").json()["payoutsEnabled"] is False


def test_events_about_accounts_that_are_not_ours_are_ignored(deliver):
    payload = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "account.updated",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "acct_notours", "object": "account"}},
    }
    deliver(json.dumps(payload).encode())
    event = StripeEvent.objects.get(event_id=payload["id"])
    assert event.status == StripeEvent.Status.PROCESSED
    assert not PayoutAccount.objects.exists()


def test_only_owners_see_or_set_up_the_organisation_payout_account(org_owner):
    owner_client, key = org_owner
    account_id = owner_client.post("/api/payout-account", {}, format="json").json()["accountId"]
    member_secret, _ = make_key(org=key.organization)
    member = api(member_secret)
    for response in (
        member.get("/api/payout-account"),
        member.post("/api/payout-account", {}, format="json"),
    ):
        assert (response.status_code, response.json()["error"]) == (403, "owner_only")
    # Another organisation's owner sees only their own (no) account.
    other = api(make_key()[0]).get("/api/payout-account").json()
    assert other["accountId"] is None and other["accountId"] != account_id
    assert api().get("/api/payout-account").status_code == 401


def test_a_contributor_sets_up_their_own_payout_account(owner, dataset, stripe_emulator_url):
    from django.core import mail

    owner.put(
        shares_url(dataset),
        {"basis": "weight", "shares": [{"email": "ana@example.org", "weight": 1}]},
        format="json",
    )
    token = claim_token(mail.outbox[-1].body)
    ana_secret, ana_key = make_key()
    ana = api(ana_secret)

    assert ana.get("/api/contributors/me/payout-account").status_code == 404
    response = ana.post("/api/contributors/me/payout-account", {}, format="json")
    assert (response.status_code, response.json()["error"]) == (404, "not_a_contributor")

    contributor = contributor_claim(
        token=token, user=verified_address(ana_key.user, "ana@example.org")
    )
    response = ana.post("/api/contributors/me/payout-account", {}, format="json")
    assert response.status_code == 201, response.json()
    account_id = response.json()["accountId"]
    return_url = parse_qs(urlsplit(response.json()["onboardingUrl"]).query)["return_url"][0]
    assert return_url.endswith("/contributors/me/payout-account/return")
    stored = PayoutAccount.objects.get(stripe_account_id=account_id)
    assert stored.payee == contributor.payee
    [remote] = stripe_accounts_of_payee(contributor.payee.pk)
    assert (remote.email, remote.metadata["payee_kind"]) == ("ana@example.org", "contributor")
    # Ana's organisation (from her key) has no account: the two are separate payees.
    assert ana.get("/api/payout-account").json()["accountId"] is None
    assert ana.get("/api/contributors/me/payout-account").json()["accountId"] == account_id
    # The dataset owner cannot reach Ana's account through the contributor endpoint.
    assert owner.get("/api/contributors/me/payout-account").status_code == 404


def test_stripe_down_is_503_and_stores_nothing_then_works_when_it_is_back(org_owner, settings):
    client, key = org_owner
    up = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    response = client.post("/api/payout-account", {}, format="json")
    assert (response.status_code, response.json()["error"]) == (503, "payment_provider_unavailable")
    assert not PayoutAccount.objects.exists()

    settings.STRIPE_API_BASE = up
    response = client.post("/api/payout-account", {}, format="json")
    assert response.status_code == 201
    assert len(stripe_accounts_of_payee(key.organization.payee.pk)) == 1


def test_stripe_refusal_is_502_with_stripes_message(org_owner):
    client, _ = org_owner
    assert client.post("/api/payout-account", {"country": "X1"}, format="json").status_code == 400
    account_id = client.post("/api/payout-account", {}, format="json").json()["accountId"]
    # The connected account was deleted on Stripe's side (e.g. from the dashboard).
    stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE}
    ).accounts.delete(account_id)
    response = client.post("/api/payout-account", {}, format="json")
    assert (response.status_code, response.json()["error"]) == (502, "payment_provider_error")
    assert account_id in response.json()["message"]


@pytest.mark.django_db(transaction=True)
def test_the_emulators_own_webhook_delivery_enables_payouts(live_server, stripe_emulator_url):
    hook = f"contributors-{uuid.uuid4().hex[:8]}"
    config = f"{stripe_emulator_url}/_config/webhooks/{hook}"
    requests.post(
        config,
        data={
            "url": f"{live_server.url}/webhooks/stripe",
            "secret": settings.STRIPE_WEBHOOK_SECRET,
            "events[]": ["account.updated"],
        },
        timeout=10,
    ).raise_for_status()
    try:
        org, owner = make_org()
        account = organization_payout_account_start(
            actor=actor_for_member(user=owner, organization=org)
        ).account
        complete_onboarding(account.stripe_account_id)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            account.refresh_from_db()
            if account.payouts_enabled:
                break
            time.sleep(0.2)
        assert account.payouts_enabled and account.details_submitted
    finally:
        # The emulator outlives this test's server: stop delivering to it.
        requests.post(
            config,
            data={
                "url": f"{live_server.url}/webhooks/stripe",
                "secret": settings.STRIPE_WEBHOOK_SECRET,
                "events[]": ["emulator.disabled"],
            },
            timeout=10,
        ).raise_for_status()
