"""Data migration: the catalogue's copy of every existing dataset's terms flags (its license's
flags narrowed by its latest datasheet), as `licensing.services.license_flags` keeps them from
now on. The license rows are licensing's: this runs after its seed of the catalogue licenses.
Reverse: nothing to undo (the columns go with the schema migration)."""

import hashlib

from django.db import migrations

FLAG_FIELDS = {
    "commercial_use": "allows_commercial_use",
    "derivatives": "allows_derivatives",
    "model_training": "allows_model_training",
    "share_alike": "requires_share_alike",
    "attribution": "requires_attribution",
}
RESTRICTIVE = {
    "commercial_use": False,
    "derivatives": False,
    "model_training": False,
    "share_alike": False,
    "attribution": True,
}
SECTIONS = ("restrictions", "forbidden_usage", "additional_conditions")


def fill(apps, schema_editor):
    # The narrowing rules are pure functions of the text (no models): the same ones the terms use.
    from licensing.terms import effective_flags, normalise

    Dataset = apps.get_model("marketplace", "Dataset")
    License = apps.get_model("licensing", "License")
    licenses = list(
        License.objects.values("identifier", "organization_id", "content_sha256", *FLAG_FIELDS)
    )
    catalogue = {row["identifier"]: row for row in licenses if row["organization_id"] is None}
    custom = {
        (row["organization_id"], row["identifier"], row["content_sha256"]): row
        for row in licenses
        if row["organization_id"] is not None
    }
    sheet = tuple(f"latest_version__submission__{name}" for name in SECTIONS)
    rows = Dataset.objects.values_list(
        "pk", "organization_id", "license_abbreviation", "license", "license_url", *sheet
    )
    for pk, org, identifier, name, url, *sections in rows.iterator(chunk_size=2_000):
        sha = hashlib.sha256(f"{identifier}\n{name or ''}\n{url or ''}".encode()).hexdigest()
        row = catalogue.get(identifier) or custom.get((org, identifier, sha))
        flags = {flag: bool(row[flag]) for flag in FLAG_FIELDS} if row else dict(RESTRICTIVE)
        texts = {key: normalise(text or "") for key, text in zip(SECTIONS, sections, strict=True)}
        flags = effective_flags(flags, texts)[0]
        Dataset.objects.filter(pk=pk).update(
            **{column: flags[flag] for flag, column in FLAG_FIELDS.items()}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0012_dataset_license_flags_and_filter_indexes"),
        ("licensing", "0002_seed_catalogue_licenses"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
