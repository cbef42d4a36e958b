"""Licensing tasks: periodic chores (scheduled in config/celery.py) and the access-request
e-mails the services enqueue after commit. Thin; each reads the current rows."""

from celery import shared_task

from licensing.services import notifications
from licensing.services.access_requests import access_requests_flag_stale
from licensing.services.grants import grants_expire
from licensing.services.refunds import order_duplicate_refund
from marketplace.payments import PaymentProviderUnavailable


@shared_task
def access_requests_mark_stale() -> int:
    return access_requests_flag_stale()


@shared_task
def grants_mark_expired() -> int:
    return grants_expire()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def access_request_created_notify(access_request_id: int) -> int:
    """E-mail the dataset organisation's owners about a new access request (SMTP errors are
    OSErrors and retried)."""
    return notifications.access_request_created_notify(access_request_id=access_request_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def access_request_decision_notify(access_request_id: int, status: str) -> int:
    """E-mail the requester a decision, unless it has been changed since."""
    return notifications.access_request_decision_notify(
        access_request_id=access_request_id, status=status
    )


@shared_task(autoretry_for=(PaymentProviderUnavailable,), retry_backoff=True, max_retries=10)
def order_duplicate_refund_task(order_pk: int) -> str:
    """Refund an order paid for a dataset its organisation already held (retried while Stripe
    is unreachable; idempotent)."""
    return order_duplicate_refund(order_pk=order_pk).status
