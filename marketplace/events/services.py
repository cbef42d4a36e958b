"""Endpoints and events: who registers where events go, and the outbox write of an event.

An event is written in the transaction of the change it reports (`event_emit`), with one pending
delivery per subscribed endpoint of the organisation; the deliveries are attempted after commit
(marketplace/events/delivery.py), so a rolled-back change never tells anyone anything."""

from __future__ import annotations

import uuid

from django.db import transaction

from marketplace.actors import Actor
from marketplace.events.sender import target_resolve
from marketplace.events.signing import secret_new
from marketplace.models import Event, EventDelivery, Organization, WebhookEndpoint
from marketplace.services.audit import audit_record
from marketplace.services.errors import Forbidden, Invalid, NotFound
from marketplace.tasking import task_enqueue_on_commit

EVENT_TYPES = (
    "dataset.version_published",
    "dataset.removed",
    "consent.withdrawn",
    "grant.revoked",
    "access_request.decided",
    "order.paid",
    "payout.paid",
)
# Stable ids: the same change (type + key) for the same organisation is always the same event.
EVENT_NAMESPACE = uuid.UUID("5d0c6a57-2f5e-4f0e-9d53-6f1c0e5b7a11")
MAX_ENDPOINTS = 20
DELIVER_TASK = "marketplace.events.tasks.event_delivery_attempt"


def _owner_require(actor: Actor) -> None:
    if actor.organization is None or not actor.is_owner:
        raise Forbidden("Only an owner of the organisation can manage webhook endpoints.")


def event_types_clean(types) -> list[str]:
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if not types or unknown:
        raise Invalid(
            "Name at least one event type, among: " + ", ".join(EVENT_TYPES) + ".",
            code="invalid_event_types",
            unknown=unknown,
        )
    return sorted(set(types))


def webhook_endpoint_create(
    *, actor: Actor, url: str, event_types: list[str], description: str = ""
) -> WebhookEndpoint:
    """An owner registers an endpoint. The URL must be http(s) and resolve only to addresses the
    sender may reach (no loopback, link-local or private ones unless settings allow). The
    returned object carries the signing secret; it is shown once, in the creation response."""
    _owner_require(actor)
    types = event_types_clean(event_types)
    target_resolve(url)  # a DNS lookup: before the transaction, not inside it
    with transaction.atomic():
        count = WebhookEndpoint.objects.filter(organization=actor.organization).count()
        if count >= MAX_ENDPOINTS:
            raise Invalid(f"At most {MAX_ENDPOINTS} endpoints per organisation.", code="too_many")
        endpoint = WebhookEndpoint.objects.create(
            organization=actor.organization,
            created_by=actor.user,
            url=url,
            description=(description or "").strip()[:200],
            event_types=types,
            secret=secret_new(),
        )
        audit_record(
            actor=actor,
            organization=actor.organization,
            action="webhook_endpoint.create",
            obj=endpoint,
            data={"url": url, "event_types": types},
        )
    return endpoint


def webhook_endpoints_of(*, actor: Actor):
    return WebhookEndpoint.objects.filter(organization=actor.organization).order_by("pk")


def webhook_endpoint_get(*, actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    """One endpoint of the actor's organisation; another organisation's is 404."""
    endpoint = WebhookEndpoint.objects.filter(
        organization=actor.organization, pk=endpoint_id
    ).first()
    if endpoint is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} not found.")
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, actor: Actor, endpoint: WebhookEndpoint) -> None:
    _owner_require(actor)
    audit_record(
        actor=actor,
        organization=endpoint.organization,
        action="webhook_endpoint.delete",
        obj=endpoint,
        data={"url": endpoint.url},
    )
    endpoint.delete()


@transaction.atomic
def webhook_endpoint_enable(*, actor: Actor, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """An owner turns an endpoint disabled after repeated failures back on: its failure count
    starts again from zero. Deliveries given up meanwhile are not re-sent by themselves (the
    owner resends the ones they want from the delivery log)."""
    _owner_require(actor)
    endpoint = WebhookEndpoint.objects.select_for_update().get(
        pk=endpoint.pk, organization=actor.organization
    )
    if endpoint.status == WebhookEndpoint.Status.ENABLED:
        return endpoint
    endpoint.status = WebhookEndpoint.Status.ENABLED
    endpoint.consecutive_failures = 0
    endpoint.disabled_at = None
    endpoint.save(update_fields=["status", "consecutive_failures", "disabled_at"])
    audit_record(
        actor=actor,
        organization=endpoint.organization,
        action="webhook_endpoint.enable",
        obj=endpoint,
        data={"url": endpoint.url},
    )
    return endpoint


def event_public_id(*, organization_id: int, type: str, key: str) -> str:
    return "evt_" + uuid.uuid5(EVENT_NAMESPACE, f"{organization_id}:{type}:{key}").hex


def event_emit(*, organization: Organization, type: str, key: str, data: dict) -> Event:
    """Record that `type` happened (identified by `key`, e.g. the order's public id) for
    `organization`, in the caller's transaction, and queue its deliveries for after commit.
    Idempotent: emitting the same type + key again returns the first event and sends nothing."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type}")
    with transaction.atomic():
        event, created = Event.objects.get_or_create(
            public_id=event_public_id(organization_id=organization.pk, type=type, key=key),
            defaults={"organization": organization, "type": type, "data": data},
        )
        if not created:
            return event
        endpoints = WebhookEndpoint.objects.filter(
            organization=organization,
            status=WebhookEndpoint.Status.ENABLED,
            event_types__contains=[type],
        )
        deliveries = EventDelivery.objects.bulk_create(
            EventDelivery(event=event, endpoint=endpoint) for endpoint in endpoints
        )
        for delivery in deliveries:
            task_enqueue_on_commit(DELIVER_TASK, delivery.pk)
    return event


def events_after(*, actor: Actor, after: str | None):
    """The organisation's events after the one named `after` (its public id), oldest first."""
    rows = Event.objects.filter(organization=actor.organization).order_by("pk")
    if after:
        anchor = rows.filter(public_id=after).values_list("pk", flat=True).first()
        if anchor is None:
            raise NotFound(f"Event {after} not found.")
        rows = rows.filter(pk__gt=anchor)
    return rows


def event_wire(event: Event) -> dict:
    """The body of an event, the same in a webhook and in polling."""
    return {
        "id": event.public_id,
        "type": event.type,
        "created": int(event.created_at.timestamp()),
        "data": event.data,
    }
