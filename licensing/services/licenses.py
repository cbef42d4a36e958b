"""Custom licenses come from datasheets: a dataset published with a `licenseAbbreviation`
outside the catalogue (conventionally `LicenseRef-...`) gets a License row of its
organisation, with the datasheet's text and URL and restrictive flags until staff review it."""

from django.db import IntegrityError, transaction

from licensing.models import License
from licensing.selectors import CUSTOM_DEFAULT_FLAGS, custom_license_sha
from marketplace.models import Dataset


def license_custom_ensure(*, dataset: Dataset) -> License | None:
    """The custom License of a published dataset (created if missing); None for catalogue
    licenses or no license. Idempotent and safe against a concurrent twin."""
    identifier = dataset.license_abbreviation or ""
    if not identifier or dataset.latest_version_id is None:
        return None
    if License.objects.filter(organization__isnull=True, identifier=identifier).exists():
        return None
    sha = custom_license_sha(
        identifier=identifier, name=dataset.license or "", url=dataset.license_url or ""
    )
    lookup = {"organization_id": dataset.organization_id, "identifier": identifier}
    existing = License.objects.filter(**lookup, content_sha256=sha).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return License.objects.create(
                **lookup,
                content_sha256=sha,
                name=(dataset.license or identifier)[:200],
                url=dataset.license_url or "",
                text=dataset.license or "",
                reviewed=False,
                **CUSTOM_DEFAULT_FLAGS,
            )
    except IntegrityError:
        return License.objects.get(**lookup, content_sha256=sha)
