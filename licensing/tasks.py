"""Periodic licensing chores (scheduled in config/celery.py). Thin, idempotent."""

from celery import shared_task

from licensing.services.access_requests import access_requests_flag_stale
from licensing.services.grants import grants_expire


@shared_task
def access_requests_mark_stale() -> int:
    return access_requests_flag_stale()


@shared_task
def grants_mark_expired() -> int:
    return grants_expire()
