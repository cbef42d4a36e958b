from django.apps import AppConfig


class LicensingConfig(AppConfig):
    name = "licensing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_save

        from licensing import (
            tasks,  # noqa: F401 - fills the Celery registry (tasks enqueued by name)
        )
        from licensing.signals import dataset_saved
        from marketplace.models import Dataset

        # A published dataset with a custom license gets its License row (a reaction of this
        # app to a lower layer's change, wired here so marketplace never imports licensing).
        post_save.connect(dataset_saved, sender=Dataset, dispatch_uid="licensing-dataset-saved")

        # Outbound events to grant holders (issue 13 §1): only licensing knows who holds one.
        from licensing.services import events as licensee_events
        from marketplace.events import signals as catalogue_signals

        catalogue_signals.dataset_version_published.connect(
            licensee_events.on_dataset_version_published, dispatch_uid="licensing-version-event"
        )
        catalogue_signals.dataset_removed.connect(
            licensee_events.on_dataset_removed, dispatch_uid="licensing-removed-event"
        )

        # A contributor's consent withdrawal sends grant holders signed deletion manifests.
        # A member mapping saved later that adds members to a withdrawal sends them a revision.
        from contributors.services.member_mapping import withdrawal_members_added_listener_register
        from contributors.services.withdrawals import withdrawal_listener_register
        from licensing.services.deletion_manifests import on_withdrawal, on_withdrawal_members_added

        withdrawal_listener_register(on_withdrawal)
        withdrawal_members_added_listener_register(on_withdrawal_members_added)

        from licensing.services import disputes, orders, refunds
        from licensing.signing import jws_sign
        from marketplace.webhooks import stripe_handler_register
        from payouts.services.proofs.build import statement_signer_register

        # The monthly statement roots are signed with the license-signing keys.
        statement_signer_register(jws_sign)

        stripe_handler_register("payment_intent.succeeded", orders.handle_payment_intent_event)
        stripe_handler_register("payment_intent.canceled", orders.handle_payment_intent_event)
        stripe_handler_register("payment_intent.payment_failed", orders.handle_payment_failed)
        stripe_handler_register("charge.refunded", orders.handle_charge_refunded)
        # Every dispute event re-fetches the dispute and syncs the order (any order of events).
        for event_type in (
            "charge.dispute.created",
            "charge.dispute.updated",
            "charge.dispute.closed",
            "charge.dispute.funds_withdrawn",
            "charge.dispute.funds_reinstated",
        ):
            stripe_handler_register(event_type, disputes.handle_dispute_event)
        # A refund made at Stripe (its dashboard, our staff refunds) syncs its order too.
        stripe_handler_register("refund.created", refunds.handle_refund_event)
        stripe_handler_register("refund.updated", refunds.handle_refund_event)
