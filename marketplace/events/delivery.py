"""Delivering events to endpoints: at least once, retried with exponential backoff for
WEBHOOKS_RETRY_WINDOW_SECONDS (3 days), one DeliveryAttempt row per try (the delivery log).

An attempt claims its delivery in a short transaction (a lease, `claimed_until`), sends with no
transaction open and no lock held, then records the outcome. An endpoint that keeps failing
(WEBHOOKS_DISABLE_AFTER_FAILURES attempts in a row) is disabled and its owners are e-mailed."""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from marketplace.actors import Actor
from marketplace.events import sender
from marketplace.events.services import DELIVER_TASK, event_wire
from marketplace.events.signing import signature_header
from marketplace.models import DeliveryAttempt, EventDelivery, Membership, WebhookEndpoint
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, Forbidden, NotFound
from marketplace.tasking import task_enqueue, task_enqueue_on_commit

S = EventDelivery.Status


def _setting(name: str, default):
    return getattr(settings, name, default)


def backoff(attempts: int) -> timedelta:
    """1 min after the first failure, doubling, at most 6 hours apart."""
    base = _setting("WEBHOOKS_RETRY_BASE_SECONDS", 60)
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 6 * 3600))


def _claim(delivery_pk: int, now) -> EventDelivery | None:
    with transaction.atomic():
        delivery = (
            EventDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "endpoint")
            .filter(pk=delivery_pk, status=S.PENDING)
            .first()
        )
        if delivery is None:
            return None
        if delivery.claimed_until and delivery.claimed_until > now:
            return None
        if delivery.next_attempt_at and delivery.next_attempt_at > now:
            return None
        if delivery.endpoint.status != WebhookEndpoint.Status.ENABLED:
            delivery.status = S.FAILED
            delivery.last_error = "endpoint disabled"
            delivery.save(update_fields=["status", "last_error"])
            return None
        lease = 2 * float(_setting("WEBHOOKS_TIMEOUT_SECONDS", 5.0)) + 60
        delivery.claimed_until = now + timedelta(seconds=lease)
        delivery.attempts += 1
        delivery.save(update_fields=["claimed_until", "attempts"])
        return delivery


def delivery_attempt(*, delivery_pk: int, now=None) -> EventDelivery | None:
    """One attempt of one delivery, if it is due and nobody else holds it. Safe to run twice or
    concurrently: the claim lets one through."""
    now = now or timezone.now()
    delivery = _claim(delivery_pk, now)
    if delivery is None:
        return None
    body = json.dumps(event_wire(delivery.event), separators=(",", ":")).encode()
    stamp = int(timezone.now().timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "DataCollective-Webhooks/1",
        "Webhook-Id": delivery.event.public_id,
        "Webhook-Attempt": str(delivery.attempts),
        "Webhook-Signature": signature_header(
            secret=delivery.endpoint.secret, body=body, timestamp=stamp
        ),
    }
    outcome = sender.post(delivery.endpoint.url, body=body, headers=headers)
    return _record(delivery_pk=delivery.pk, outcome=outcome, now=now)


@transaction.atomic
def _record(*, delivery_pk: int, outcome: sender.Outcome, now) -> EventDelivery:
    delivery = (
        EventDelivery.objects.select_for_update(of=("self",))
        .select_related("endpoint")
        .get(pk=delivery_pk)
    )
    error = outcome.error or ("" if outcome.ok else f"HTTP {outcome.response_code}")
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        response_code=outcome.response_code,
        latency_ms=outcome.latency_ms,
        response_body=outcome.body,
        error=error,
        succeeded=outcome.ok,
    )
    delivery.claimed_until = None
    delivery.last_response_code = outcome.response_code
    delivery.last_latency_ms = outcome.latency_ms
    delivery.last_error = error
    endpoint = delivery.endpoint
    if outcome.ok:
        delivery.status = S.SUCCEEDED
        delivery.delivered_at = timezone.now()
        delivery.next_attempt_at = None
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
    else:
        window = timedelta(seconds=_setting("WEBHOOKS_RETRY_WINDOW_SECONDS", 3 * 24 * 3600))
        retry_at = now + backoff(delivery.attempts)
        if retry_at > delivery.created_at + window:
            delivery.status = S.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = retry_at
        _endpoint_failed(endpoint.pk)
    delivery.save()
    return delivery


def _endpoint_failed(endpoint_pk: int) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_pk)
    limit = _setting("WEBHOOKS_DISABLE_AFTER_FAILURES", 100)
    if endpoint.status != WebhookEndpoint.Status.ENABLED or endpoint.consecutive_failures < limit:
        return
    endpoint.status = WebhookEndpoint.Status.DISABLED
    endpoint.disabled_at = timezone.now()
    endpoint.save(update_fields=["status", "disabled_at"])
    audit_record(
        actor=None,
        organization=endpoint.organization,
        action="webhook_endpoint.disable",
        obj=endpoint,
        data={"consecutive_failures": endpoint.consecutive_failures},
    )
    owners = list(
        Membership.objects.filter(
            organization_id=endpoint.organization_id, role=Membership.Role.OWNER
        ).values_list("user__email", flat=True)
    )
    subject = "Webhook endpoint disabled after repeated failures"
    body = (
        f"Your webhook endpoint {endpoint.url} failed {endpoint.consecutive_failures} "
        "deliveries in a row and has been disabled. Events are still readable by polling "
        "GET /api/events; fix the endpoint and register it again or resend deliveries."
    )
    owners = [e for e in owners if e]
    if owners:
        transaction.on_commit(lambda: send_mail(subject, body, None, owners))


def deliveries_due(*, now=None, limit: int = 500) -> list[int]:
    """Pending deliveries whose retry time has come, or whose first attempt was never made (a
    lost task), or whose claim expired (a worker died mid-attempt)."""
    now = now or timezone.now()
    return list(
        EventDelivery.objects.filter(status=S.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(
            Q(next_attempt_at__lte=now)
            | Q(next_attempt_at__isnull=True, created_at__lt=now - timedelta(minutes=1))
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def deliveries_send_due(*, now=None) -> int:
    """The beat sweep: enqueue an attempt of every due delivery."""
    pks = deliveries_due(now=now)
    for pk in pks:
        task_enqueue(DELIVER_TASK, pk)
    return len(pks)


def deliveries_of_endpoint(*, endpoint: WebhookEndpoint):
    return (
        EventDelivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related("log")
        .order_by("-pk")
    )


@transaction.atomic
def delivery_resend(*, actor: Actor, endpoint: WebhookEndpoint, delivery_id: int) -> EventDelivery:
    """Send a delivery again now (same event, same id: the receiver can tell it is a replay).
    Owners only, like every other change to the organisation's endpoints."""
    if actor.organization is None or not actor.is_owner:
        raise Forbidden("Only an owner of the organisation can resend webhook deliveries.")
    delivery = (
        EventDelivery.objects.select_for_update(of=("self",))
        .filter(endpoint=endpoint, pk=delivery_id)
        .first()
    )
    if delivery is None:
        raise NotFound(f"Delivery {delivery_id} not found.")
    if endpoint.status != WebhookEndpoint.Status.ENABLED:
        raise Conflict("The endpoint is disabled.", code="endpoint_disabled")
    delivery.status = S.PENDING
    delivery.next_attempt_at = None
    delivery.claimed_until = None
    delivery.save(update_fields=["status", "next_attempt_at", "claimed_until"])
    audit_record(
        actor=actor,
        organization=endpoint.organization,
        action="webhook_delivery.resend",
        obj=delivery,
        data={"event": delivery.event.public_id},
    )
    task_enqueue_on_commit(DELIVER_TASK, delivery.pk)
    return delivery
