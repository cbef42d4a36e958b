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

        # Consent withdrawals (issue 13 §2): the ingestion checks of a new version ask which of
        # its digests were withdrawn, and a published version may meet the obligation.
        from contributors.services.withdrawals import (
            on_dataset_version_published,
            withdrawn_digests,
        )
        from marketplace.events.signals import dataset_version_published
        from marketplace.services.ingestion import withdrawn_digests_provider_register

        withdrawn_digests_provider_register(withdrawn_digests)
        dataset_version_published.connect(
            on_dataset_version_published, dispatch_uid="contributors-withdrawals-fulfil"
        )
