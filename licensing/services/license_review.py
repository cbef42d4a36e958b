"""Staff review of a license's flags (custom licenses start restrictive and unreviewed)."""

from django.db import transaction

from licensing.models import License
from licensing.services.license_flags import license_datasets_flags_sync, license_datasets_lock
from marketplace.catalogue_cache import catalogue_changed
from marketplace.models import User
from marketplace.services.audit import audit_record

FLAGS = ("commercial_use", "derivatives", "model_training", "share_alike", "attribution")


@transaction.atomic
def license_flags_set(
    *, actor: User, license: License, flags: dict[str, bool], notes: str, reviewed: bool
) -> License:
    """Set what a license allows and requires, its notes for buyers, and whether staff reviewed
    it. The flags are part of every dataset's terms under the license, so a change makes buyers
    accept again and shows in the catalogue: the change is audited (before and after), every
    dataset under the license gets its new terms flags, and the catalogue cache is
    invalidated. Unknown flag names are refused."""
    unknown = set(flags) - set(FLAGS)
    if unknown:
        raise ValueError(f"unknown license flags: {sorted(unknown)}")
    license_datasets_lock(license=license)  # datasets before the license (see license_flags)
    row = License.objects.select_for_update().get(pk=license.pk)
    before = {name: getattr(row, name) for name in (*FLAGS, "notes", "reviewed")}
    after = {**before, **{k: bool(v) for k, v in flags.items()}}
    after["notes"], after["reviewed"] = (notes or "").strip(), bool(reviewed)
    changed = [name for name in after if after[name] != before[name]]
    if changed:
        for name in changed:
            setattr(row, name, after[name])
        row.save(update_fields=[*changed, "updated_at"])
        if set(changed) & set(FLAGS):  # the catalogue filters on every dataset's flags
            license_datasets_flags_sync(license=row)
        catalogue_changed()
        audit_record(
            actor=actor,
            organization=row.organization,
            action="license.flags_set",
            obj=row,
            data={
                "identifier": row.identifier,
                "before": {k: before[k] for k in changed},
                "after": {k: after[k] for k in changed},
            },
        )
    return row
