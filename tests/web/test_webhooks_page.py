"""The workspace's webhook endpoints page: create (the secret shown once), the delivery log
with resend, re-enabling an endpoint disabled after repeated failures; owners write, another
organisation gets 404; staff read endpoints in the admin without their secret."""

import json
import re

import pytest
from django.test import Client

from marketplace.models import AuditEvent, WebhookEndpoint
from tests.events import conftest as events_fixtures
from tests.events.test_webhooks import emit
from tests.factories import make_key
from tests.staff import conftest as staff_fixtures
from tests.staff.conftest import staff_client

pytestmark = pytest.mark.django_db
# The fixtures of the events and staff tests, used here too.
allow_loopback = events_fixtures.allow_loopback
receiver = events_fixtures.receiver
support_user = staff_fixtures.support_user
PAGE = "/organization/webhooks"


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def create(client, url, types=("order.paid",)):
    return client.post(PAGE, {"url": url, "event_types": list(types), "description": "prod"})


def test_create_shows_the_secret_once(provider, receiver, allow_loopback):
    owner = browser(provider.user)
    assert 'href="/organization/webhooks"' in owner.get("/organization").content.decode()
    created = create(owner, receiver.url(), types=["order.paid", "dataset.removed"])
    assert created.status_code == 201
    secret = re.search(
        r'id="issued-secret" type="text" readonly value="([^"]+)"', created.content.decode()
    ).group(1)
    endpoint = WebhookEndpoint.objects.get(organization=provider.org)
    assert secret == endpoint.secret and endpoint.event_types == ["dataset.removed", "order.paid"]
    assert endpoint.created_by == provider.user
    # Never again: not on the list, not on the endpoint's page.
    listing = owner.get(PAGE).content.decode()
    assert receiver.url() in listing and secret not in listing
    assert secret not in owner.get(f"{PAGE}/{endpoint.pk}").content.decode()


def test_bad_input_is_refused_next_to_the_field_and_creates_nothing(provider, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    owner = browser(provider.user)
    no_types = owner.post(PAGE, {"url": "https://example.org/hook"})
    assert no_types.status_code == 400 and 'id="id_event_types_error"' in no_types.content.decode()
    private = create(owner, "http://127.0.0.1:9/hook")
    assert private.status_code == 400
    html = private.content.decode()
    assert 'id="id_url_error"' in html and 'value="http://127.0.0.1:9/hook"' in html
    assert not WebhookEndpoint.objects.exists()


def test_a_member_cannot_create_and_another_organisation_gets_404(
    provider, outsider, receiver, allow_loopback
):
    _secret, key = make_key(org=provider.org)
    refused = create(browser(key.user), receiver.url())
    assert refused.status_code == 403 and not WebhookEndpoint.objects.exists()
    create(browser(provider.user), receiver.url())
    endpoint = WebhookEndpoint.objects.get()
    stranger = browser(outsider.user)
    assert stranger.get(f"{PAGE}/{endpoint.pk}").status_code == 404
    assert stranger.post(f"{PAGE}/{endpoint.pk}/delete").status_code == 404
    assert stranger.post(f"{PAGE}/{endpoint.pk}/enable").status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_delivery_log_and_resend(provider, receiver, allow_loopback):
    owner = browser(provider.user)
    create(owner, receiver.url())
    endpoint = WebhookEndpoint.objects.get()
    event = emit(provider, key="ord_page")
    page = owner.get(f"{PAGE}/{endpoint.pk}")
    html = page.content.decode()
    delivery = endpoint.deliveries.get()
    assert event.public_id in html and "succeeded" in html
    assert f"{delivery.last_latency_ms} ms" in html and "<td>200</td>" in html

    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        resent = owner.post(f"{PAGE}/{endpoint.pk}/deliveries/{delivery.pk}/resend")
    assert resent.status_code == 302
    first, second = receiver.received
    assert first.headers["Webhook-Id"] == second.headers["Webhook-Id"] == event.public_id
    assert json.loads(second.body)["id"] == event.public_id


def test_an_endpoint_disabled_after_failures_is_enabled_again(
    provider, receiver, allow_loopback, settings
):
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 2
    receiver.statuses = [500, 500]
    owner = browser(provider.user)
    create(owner, receiver.url())
    endpoint = WebhookEndpoint.objects.get()
    emit(provider, key="ord_a")
    emit(provider, key="ord_b")
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled" and endpoint.consecutive_failures == 2

    page = owner.get(f"{PAGE}/{endpoint.pk}").content.decode()
    assert "Disabled" in page and 'id="enable-endpoint"' in page
    _secret, key = make_key(org=provider.org)  # a plain member may not
    browser(key.user).post(f"{PAGE}/{endpoint.pk}/enable")
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled"

    assert owner.post(f"{PAGE}/{endpoint.pk}/enable").status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.consecutive_failures, endpoint.disabled_at) == (
        "enabled",
        0,
        None,
    )
    assert AuditEvent.objects.filter(
        action="webhook_endpoint.enable", object_id=str(endpoint.pk), actor=provider.user
    ).exists()
    # It receives again.
    emit(provider, key="ord_c")
    assert json.loads(receiver.received[-1].body)["data"]["order"] == "ord_c"


def test_delete(provider, receiver, allow_loopback):
    owner = browser(provider.user)
    create(owner, receiver.url())
    endpoint = WebhookEndpoint.objects.get()
    assert owner.post(f"{PAGE}/{endpoint.pk}/delete").status_code == 302
    assert not WebhookEndpoint.objects.exists()


def test_staff_read_endpoints_and_deliveries_without_the_secret(
    provider, receiver, allow_loopback, support_user
):
    create(browser(provider.user), receiver.url())
    endpoint = WebhookEndpoint.objects.get()
    emit(provider, key="ord_admin")
    client = staff_client(support_user)
    page = client.get(f"/admin/marketplace/webhookendpoint/{endpoint.pk}/change/")
    assert page.status_code == 200 and endpoint.secret not in page.content.decode()
    deliveries = client.get("/admin/marketplace/eventdelivery/")
    assert deliveries.status_code == 200 and "succeeded" in deliveries.content.decode()
    assert (
        client.post(f"/admin/marketplace/webhookendpoint/{endpoint.pk}/delete/").status_code == 403
    )


def test_a_resubmitted_create_form_adds_no_second_endpoint(provider, receiver, allow_loopback):
    """Reloading the page that shows the new secret sends the POST again: its one-time token
    is spent, so no second endpoint (whose secret nobody saw) is created."""
    owner = browser(provider.user)
    blank = owner.get(PAGE).content.decode()
    token = re.search(r'name="once" value="([^"]+)"', blank).group(1)
    form = {"url": receiver.url(), "event_types": ["order.paid"], "once": token}
    assert owner.post(PAGE, form).status_code == 201
    again = owner.post(PAGE, form, follow=True)
    assert again.status_code == 200 and "already added" in again.content.decode()
    assert WebhookEndpoint.objects.count() == 1


def test_only_an_owner_resends_a_delivery(provider, receiver, allow_loopback):
    create(browser(provider.user), receiver.url())
    endpoint = WebhookEndpoint.objects.get()
    emit(provider, key="ord_member")
    delivery = endpoint.deliveries.get()
    member_secret, key = make_key(org=provider.org)
    member = browser(key.user)
    assert "Resend" not in member.get(f"{PAGE}/{endpoint.pk}").content.decode()
    refused = member.post(f"{PAGE}/{endpoint.pk}/deliveries/{delivery.pk}/resend", follow=True)
    assert "Only an owner" in refused.content.decode()
    api = Client().post(
        f"/api/webhook-endpoints/{endpoint.pk}/deliveries/{delivery.pk}/resend",
        HTTP_AUTHORIZATION=f"Bearer {member_secret}",
    )
    assert api.status_code == 403 and api.json()["error"]
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and len(receiver.received) == 1
