"""Existing contributors: their invitation and claim belong to the organisation whose share
tables name them, when exactly one does (before this, invitations did not record it). A person
named by several organisations stays unattributed: no organisation then sees another's claim."""

from django.db import migrations
from django.db.models import Count


def backfill(apps, schema_editor):
    Contributor = apps.get_model("contributors", "Contributor")
    ShareLine = apps.get_model("contributors", "ShareLine")
    single = (
        ShareLine.objects.filter(payee__contributor__isnull=False)
        .values("payee__contributor")
        .annotate(orgs=Count("table__dataset__organization", distinct=True))
        .filter(orgs=1)
        .values_list("payee__contributor", flat=True)
    )
    ids = list(single)
    for start in range(0, len(ids), 5_000):
        for contributor in Contributor.objects.filter(pk__in=ids[start : start + 5_000]).only(
            "pk", "user_id", "invited_at"
        ):
            org_id = (
                ShareLine.objects.filter(payee__contributor=contributor)
                .values_list("table__dataset__organization", flat=True)
                .first()
            )
            fields = {}
            if contributor.invited_at is not None:
                fields["invited_by_id"] = org_id
            if contributor.user_id is not None:
                fields["claimed_via_id"] = org_id
            if fields:
                Contributor.objects.filter(pk=contributor.pk).update(**fields)


class Migration(migrations.Migration):
    dependencies = [("contributors", "0004_contributor_invited_by_claimed_via")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
