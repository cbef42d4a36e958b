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

        from django.db.models.signals import post_save

        from contributors.signals import dataset_version_saved
        from marketplace.models import DatasetVersion

        # A published version makes the shares staged on its submission the dataset's table
        # (a reaction to a lower layer's change, wired here so marketplace never imports us).
        post_save.connect(
            dataset_version_saved,
            sender=DatasetVersion,
            dispatch_uid="contributors-dataset-version-saved",
        )
