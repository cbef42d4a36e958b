"""The dataset page's "Get access" panel and the order page, server side: what the panel says
at each step (licensing.access_panel.dataset_access_state), its actions through the same services as
the API (terms, access request, order with the page's Idempotency-Key, download session), the
order page turning paid only through Stripe's webhook, and another organisation's order 404."""

import uuid

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.test import Client, RequestFactory, TestCase

from licensing.access_panel import dataset_access_state
from licensing.models import AccessRequest, DownloadSession, Grant, Order, TermsAcceptance
from licensing.services.access_requests import access_request_decide
from marketplace.payments import stripe_client
from tests.licensing.conftest import publish
from tests.webhooks import stripe_event, stripe_signature, webhook_post

PRICE = 2500


def browser(party) -> Client:
    client = Client()
    client.force_login(party.user)
    return client


def panel(dataset, party) -> tuple[dict, str]:
    """The panel's state and HTML as the dataset page renders them for `party`'s owner."""
    request = RequestFactory().get(f"/datasets/{dataset.slug}")
    request.user = party.user
    access = dataset_access_state(dataset=dataset, user=party.user, organization=party.org)
    html = render_to_string(
        "licensing/_access_panel.html", {"access": access, "dataset": dataset}, request=request
    )
    return access, html


def accept(client, dataset, access) -> None:
    response = client.post(
        f"/datasets/{dataset.public_id}/access/terms",
        {"terms_hash": access["terms_hash"], "agree": "on"},
    )
    assert response.status_code == 302


def deliver(intent_id: str) -> None:
    """Stripe's payment_intent.succeeded webhook for the intent (our handler re-fetches it)."""
    payload = stripe_event("payment_intent.succeeded", id=intent_id, object="payment_intent")
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert webhook_post(payload, stripe_signature(payload)).status_code == 200


@pytest.mark.django_db
def test_free_public_dataset_accept_terms_then_download(provider, buyer):
    dataset = publish(provider, "Free Breton speech")
    client = browser(buyer)
    access, html = panel(dataset, buyer)
    assert access["step"] == "accept_terms" and "Accept the terms" in html
    # Without the box ticked nothing is recorded.
    client.post(f"/datasets/{dataset.public_id}/access/terms", {"terms_hash": access["terms_hash"]})
    assert not TermsAcceptance.objects.filter(organization=buyer.org).exists()
    accept(client, dataset, access)
    acceptance = TermsAcceptance.objects.get(organization=buyer.org, dataset=dataset)
    assert acceptance.via == TermsAcceptance.Via.WEB and acceptance.user == buyer.user
    access, html = panel(dataset, buyer)
    assert access["step"] == "download" and "Download the dataset" in html
    response = client.post(f"/datasets/{dataset.public_id}/access/download")
    assert response.status_code == 302
    assert response["Location"].startswith(settings.AWS_S3_ENDPOINT_URL)
    session = DownloadSession.objects.get(organization=buyer.org, dataset=dataset)
    assert session.kind == DownloadSession.Kind.DATASET and session.basis == "free"


@pytest.mark.django_db
def test_stale_terms_hash_is_refused_with_the_reason(provider, buyer):
    dataset = publish(provider, "Stale terms")
    response = browser(buyer).post(
        f"/datasets/{dataset.public_id}/access/terms",
        {"terms_hash": "0" * 64, "agree": "on"},
        follow=True,
    )
    assert "changed" in response.content.decode() or "current" in response.content.decode()
    assert not TermsAcceptance.objects.filter(organization=buyer.org).exists()


@pytest.mark.django_db
def test_paid_dataset_order_is_one_per_page_key_and_paid_only_by_the_webhook(provider, buyer):
    dataset = publish(provider, "Paid Gaelic", isPaid=True, basePriceCents=PRICE, currency="usd")
    client = browser(buyer)
    access, _ = panel(dataset, buyer)
    accept(client, dataset, access)
    access, html = panel(dataset, buyer)
    assert access["step"] == "pay" and access["order_key"] in html
    # A double click posts the same form twice: one order, one PaymentIntent.
    first = client.post(
        f"/datasets/{dataset.public_id}/access/order", {"idempotency_key": access["order_key"]}
    )
    second = client.post(
        f"/datasets/{dataset.public_id}/access/order", {"idempotency_key": access["order_key"]}
    )
    order = Order.objects.get(organization=buyer.org, dataset=dataset)
    assert first["Location"] == second["Location"] == f"/orders/{order.public_id}"
    # Another render's key while the order is open: still the same order.
    again, _ = panel(dataset, buyer)
    assert again["open_order"] == order and again["order_key"] != access["order_key"]
    client.post(
        f"/datasets/{dataset.public_id}/access/order", {"idempotency_key": again["order_key"]}
    )
    assert Order.objects.filter(organization=buyer.org).count() == 1

    page = client.get(f"/orders/{order.public_id}").content.decode()
    assert f'src="{settings.STRIPE_JS_URL}"' in page
    assert order.client_secret in page and settings.STRIPE_PUBLISHABLE_KEY in page
    assert "Status: <strong>Pending" in page

    # Stripe.js confirms the payment (the calls it makes, done here from the server side).
    stripe = stripe_client()
    stripe.payment_intents.update(
        order.payment_intent_id, params={"payment_method": "pm_card_visa"}
    )
    assert stripe.payment_intents.confirm(order.payment_intent_id).status == "succeeded"
    status = client.get(f"/orders/{order.public_id}/status").content.decode()
    assert "Pending" in status and "hx-get" in status  # no webhook yet: still pending, polling
    assert not Grant.objects.filter(organization=buyer.org).exists()

    deliver(order.payment_intent_id)
    order.refresh_from_db()
    status = client.get(f"/orders/{order.public_id}/status").content.decode()
    assert order.status == "paid" and "Paid" in status and "hx-get" not in status
    for shown in (order.public_id, order.charge_id, "Platform fee", f'value="{PRICE}"'):
        assert shown in status
    assert f'value="{order.total_price_cents}"' in status
    access, _ = panel(dataset, buyer)
    assert access["step"] == "download" and access["grant"] is not None
    response = client.post(f"/datasets/{dataset.public_id}/access/download")
    assert response.status_code == 302
    assert DownloadSession.objects.get(organization=buyer.org).basis == "grant"


@pytest.mark.django_db
def test_restricted_dataset_request_access_then_download(provider, buyer):
    dataset = publish(provider, "Clinic dialogues", visibility="restricted")
    client = browser(buyer)
    access, html = panel(dataset, buyer)
    assert access["step"] == "request_access" and "Intended use" in html
    # Missing intended use: the form comes back with the error and what was typed; nothing saved.
    response = client.post(
        f"/datasets/{dataset.public_id}/access/request", {"name": "Ada Lovelace"}
    )
    assert response.status_code == 400
    assert "Ada Lovelace" in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert not AccessRequest.objects.exists()
    response = client.post(
        f"/datasets/{dataset.public_id}/access/request",
        {"name": "Ada Lovelace", "intended_use": "ASR evaluation"},
    )
    assert response.status_code == 302
    found = AccessRequest.objects.get(organization=buyer.org, dataset=dataset)
    assert found.organization_name == buyer.org.name and found.status == "pending"
    access, html = panel(dataset, buyer)
    assert access["step"] == "pending" and "pending" in html
    access_request_decide(actor=provider.actor, access_request=found, approve=True, reason="")
    access, _ = panel(dataset, buyer)
    assert access["step"] == "accept_terms"
    accept(client, dataset, access)
    assert client.post(f"/datasets/{dataset.public_id}/access/download").status_code == 302
    assert DownloadSession.objects.filter(organization=buyer.org, dataset=dataset).exists()


@pytest.mark.django_db
def test_rejected_request_shows_the_reason_and_can_ask_again(provider, buyer):
    dataset = publish(provider, "Rejected ones", visibility="restricted")
    browser(buyer).post(
        f"/datasets/{dataset.public_id}/access/request",
        {"name": "Ada", "intended_use": "Ads"},
    )
    found = AccessRequest.objects.get(organization=buyer.org)
    access_request_decide(
        actor=provider.actor, access_request=found, approve=False, reason="No advertising use"
    )
    access, html = panel(dataset, buyer)
    assert access["step"] == "rejected"
    assert "No advertising use" in html and "Request access" in html


@pytest.mark.django_db
def test_signed_out_and_owner_panels(provider, buyer):
    dataset = publish(provider, "Owner's own")
    assert (
        dataset_access_state(dataset=dataset, user=AnonymousUser(), organization=None)["step"]
        == "sign_in"
    )
    access, html = panel(dataset, provider)
    assert access["step"] == "owner" and "publishes this dataset" in html


@pytest.mark.django_db
def test_another_organisations_order_is_404(provider, buyer, outsider):
    dataset = publish(provider, "Paid Manx", isPaid=True, basePriceCents=PRICE, currency="usd")
    client = browser(buyer)
    access, _ = panel(dataset, buyer)
    accept(client, dataset, access)
    client.post(
        f"/datasets/{dataset.public_id}/access/order", {"idempotency_key": uuid.uuid4().hex}
    )
    order = Order.objects.get(organization=buyer.org)
    other = browser(outsider)
    assert other.get(f"/orders/{order.public_id}").status_code == 404
    assert other.get(f"/orders/{order.public_id}/status").status_code == 404
    assert other.get("/orders/ordnothere").status_code == 404
    assert client.get(f"/orders/{order.public_id}").status_code == 200


@pytest.mark.django_db
def test_api_access_request_organization_name_defaults_to_the_callers_organisation(provider, buyer):
    dataset = publish(provider, "Named by default", visibility="restricted")
    response = buyer.client.post(
        f"/api/datasets/{dataset.public_id}/access-requests",
        {"name": "Ada Lovelace", "intendedUse": "ASR evaluation"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["requester"]["organizationName"] == buyer.org.name
    blank = buyer.client.post(
        f"/api/datasets/{dataset.public_id}/access-requests",
        {"name": "Ada", "organizationName": "", "intendedUse": "x"},
        format="json",
    )
    assert blank.status_code == 400 and set(blank.json()) >= {"message", "error"}
