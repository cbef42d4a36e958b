from django.apps import AppConfig


class ContributorsConfig(AppConfig):
    name = "contributors"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from contributors import (
            tasks,  # noqa: F401 - fills the Celery registry (tasks enqueued by name)
        )
        from contributors.services.payout_accounts import stripe_account_updated_handle
        from marketplace.webhooks import stripe_handler_register

        stripe_handler_register("account.updated", stripe_account_updated_handle)
