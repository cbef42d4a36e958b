from celery import shared_task

from contributors.services.invitations import contributor_invite_send


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def contributor_invite(contributor_id: int, dataset_id: int | None = None) -> bool:
    """E-mail a claim link to a contributor without an account (SMTP errors are OSErrors and
    retried; each attempt issues a new token, only the newest link is valid)."""
    return contributor_invite_send(contributor_id=contributor_id, dataset_id=dataset_id)
