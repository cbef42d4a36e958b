"""The catalogue's copy of each dataset's terms flags.

The catalogue (marketplace, which may not read licensing) filters datasets on what their terms
allow and require: the flags of the dataset's license (catalogue or custom, see
`license_of_dataset`) narrowed by its latest version's datasheet (`effective_flags`), exactly the
flags the dataset page and the terms show. They are kept on `Dataset` (`LICENSE_FLAG_FIELDS`)
and rewritten here when a version is published (`dataset_flags_sync`, from the `Dataset`
post-save reaction) and when staff change a license's flags (`license_datasets_flags_sync`).

Lock order, so that a publish and a flags change never deadlock nor leave stale flags: the
datasets (ordered by pk), then the license rows. A publish holds its dataset and then locks the
license rows of its identifier while it reads them; a flags change locks every dataset of the
license first (`license_datasets_lock`), then the license, and re-reads the datasets after."""

from collections import defaultdict

from django.db import transaction
from django.db.models import Q, QuerySet

from licensing.models import License
from licensing.selectors import custom_license_sha, license_of_dataset
from licensing.terms import FLAGS, effective_flags, normalise
from marketplace.models import Dataset, Submission
from marketplace.models.catalogue import LICENSE_FLAG_FIELDS

SECTIONS = ("restrictions", "forbidden_usage", "additional_conditions")
_SHEET = tuple(f"latest_version__submission__{name}" for name in SECTIONS)
_BATCH = 5_000


def _columns(flags: dict[str, bool]) -> dict[str, bool]:
    return {LICENSE_FLAG_FIELDS[name]: bool(flags[name]) for name in FLAGS}


def _terms_flags(license_flags: dict[str, bool], sections) -> dict[str, bool]:
    texts = {name: normalise(text or "") for name, text in zip(SECTIONS, sections, strict=True)}
    return effective_flags(license_flags, texts)[0]


@transaction.atomic
def dataset_flags_sync(*, dataset: Dataset) -> dict[str, bool]:
    """Write the dataset's terms flags (its license's, narrowed by its latest datasheet) onto
    its catalogue columns; returns them. Idempotent. Locks the license rows of the dataset's
    identifier while reading them, so a concurrent flags change waits or is seen."""
    if dataset.license_abbreviation:
        list(
            License.objects.select_for_update(no_key=True)
            .filter(identifier=dataset.license_abbreviation)
            .filter(Q(organization__isnull=True) | Q(organization_id=dataset.organization_id))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    sheet = ("", "", "")
    if dataset.latest_version_id is not None:
        sheet = (
            Submission.objects.filter(versions__pk=dataset.latest_version_id)
            .values_list(*SECTIONS)
            .first()
        ) or sheet
    flags = _terms_flags(license_of_dataset(dataset).flags, sheet)
    columns = _columns(flags)
    Dataset.objects.filter(pk=dataset.pk).update(**columns)
    for column, value in columns.items():
        setattr(dataset, column, value)
    return flags


def _datasets_of(license: License) -> QuerySet[Dataset]:
    """Datasets that may be under the license (a custom one's are narrowed by content below)."""
    rows = Dataset.objects.filter(license_abbreviation=license.identifier)
    if license.organization_id is not None:
        rows = rows.filter(organization_id=license.organization_id)
    return rows


def license_datasets_lock(*, license: License) -> None:
    """Lock every dataset that may be under the license, in pk order (before the license row:
    see the lock order above). Call inside the transaction that changes the license."""
    list(_datasets_of(license).select_for_update().order_by("pk").values_list("pk", flat=True))


def license_datasets_flags_sync(*, license: License) -> int:
    """Rewrite the terms flags of every dataset under the license (after its flags changed);
    returns how many datasets it rewrote. Datasets without datasheet sections take the
    license's flags in one UPDATE; the others are narrowed one by one and written in groups of
    equal flags. A catalogue license wins over a custom one of the same identifier, so a custom
    license shadowed by a catalogue one rewrites nothing."""
    flags = {name: getattr(license, name) for name in FLAGS}
    rows = _datasets_of(license)
    written = 0
    if license.organization_id is None:
        plain = Q(latest_version__isnull=True) | Q(**{column: "" for column in _SHEET})
        written += rows.filter(plain).update(**_columns(flags))
        rows = rows.exclude(plain)
    elif License.objects.filter(organization__isnull=True, identifier=license.identifier).exists():
        return 0
    groups: dict[tuple, list[int]] = defaultdict(list)
    for pk, name, url, *sections in rows.values_list("pk", "license", "license_url", *_SHEET):
        if license.organization_id is not None and license.content_sha256 != custom_license_sha(
            identifier=license.identifier, name=name or "", url=url or ""
        ):
            continue
        terms = _terms_flags(flags, sections)
        groups[tuple(terms[name] for name in FLAGS)].append(pk)
    for values, pks in groups.items():
        for start in range(0, len(pks), _BATCH):
            chunk = pks[start : start + _BATCH]
            written += Dataset.objects.filter(pk__in=chunk).update(
                **_columns(dict(zip(FLAGS, values, strict=True)))
            )
    return written
