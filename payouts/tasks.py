from celery import shared_task
from django.utils import timezone


@shared_task(name="payouts.tasks.holds_release")
def holds_release() -> dict:
    """Hourly: move sales past the refund window from pending to available (idempotent)."""
    from payouts.services.holds import holds_release as release

    result = release(now=timezone.now())
    return {"released": result.released, "failed": result.failed}
