"""Check findings as a provider reads them, and what only staff read (issue 11, findings 6
and 8): a duplicate of another organisation's dataset is not named to the provider, and no
internal address (a scanner's, storage's) reaches a provider's summary or details."""

import re

from marketplace.models import DatasetVersion


def duplicate_archive_finding(clash: DatasetVersion, organization_id: int) -> dict:
    """The provider learns that the archive is already published; which dataset only when it is
    one of their own organisation's. Staff read which in `internal`."""
    own = clash.dataset.organization_id == organization_id
    return {
        "name": "duplicate_archive",
        "status": "fail",
        "summary": (
            f"This archive is identical to your published {clash.filename}."
            if own
            else "This archive is a duplicate of a published dataset."
        ),
        "details": {"dataset": clash.dataset.public_id, "version": clash.number} if own else {},
        "internal": {
            "dataset": clash.dataset.public_id,
            "organization": clash.dataset.organization_id,
            "version": clash.number,
            "filename": clash.filename,
        },
    }


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>)]+", re.IGNORECASE)


def provider_safe(value):
    """Findings as a provider reads them: any URL (a scanner's or storage's address in an error
    message) replaced by "<internal address>", in strings at any depth."""
    if isinstance(value, str):
        return _URL.sub("<internal address>", value)
    if isinstance(value, dict):
        return {k: provider_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [provider_safe(v) for v in value]
    return value
