from celery import shared_task

from marketplace.events.delivery import deliveries_send_due, delivery_attempt


@shared_task(name="marketplace.events.tasks.event_delivery_attempt")
def event_delivery_attempt(delivery_pk: int) -> str:
    delivery = delivery_attempt(delivery_pk=delivery_pk)
    return delivery.status if delivery else "skipped"


@shared_task(name="marketplace.events.tasks.event_deliveries_send_due")
def event_deliveries_send_due() -> int:
    return deliveries_send_due()
