"""Consent-withdrawal fragments for pages of other apps (issue 13 §2): the public dataset card's
"n withdrawals handled, last on …" (never who), the provider's obligations on the workspace
dataset page, the contributor's own withdrawals, and the licensee's manifests to acknowledge."""

from django import template
from django.utils import timezone

from contributors.models import ConsentWithdrawal
from contributors.services.withdrawals import withdrawals_handled
from licensing.models import DeletionManifest

register = template.Library()


@register.inclusion_tag("licensing/consent/_handled.html")
def consent_withdrawals_handled(dataset):
    count, last = withdrawals_handled(dataset_ids=[dataset.pk]).get(dataset.pk, (0, None))
    return {"count": count, "last": last}


@register.inclusion_tag("licensing/consent/_obligations.html")
def consent_obligations(dataset):
    """The workspace dataset page: open obligations and licensees yet to acknowledge."""
    open_rows = list(
        ConsentWithdrawal.objects.filter(
            dataset=dataset, status=ConsentWithdrawal.Status.OPEN
        ).order_by("deadline", "pk")
    )
    return {
        "dataset": dataset,
        "open": open_rows,
        "now": timezone.now(),
        "unacknowledged": DeletionManifest.objects.unacknowledged().filter(dataset=dataset).count(),
    }


@register.inclusion_tag("licensing/consent/_my_withdrawals.html")
def my_withdrawals(contributor):
    return {
        "withdrawals": list(
            ConsentWithdrawal.objects.filter(contributor=contributor)
            .select_related("dataset")
            .order_by("-created_at", "-pk")
        )
    }


@register.simple_tag
def manifests_to_acknowledge(organization) -> int:
    return DeletionManifest.objects.unacknowledged().filter(organization=organization).count()
