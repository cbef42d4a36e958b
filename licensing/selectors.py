"""Reads of the licensing app: the dataset as licensing sees it, its license and terms, and the
caller-scoped lists (grants, access requests, download history)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from licensing.models import (
    AccessRequest,
    DownloadSession,
    Grant,
    License,
    Order,
    TermsAcceptance,
)
from licensing.terms import FLAGS, LicenseInfo, Terms, render
from marketplace.models import Dataset, DatasetVersion, Organization, Submission, Visibility
from marketplace.prepared import read_row_prepared
from marketplace.services.errors import Gone, NotFound

LISTED = (Visibility.PUBLIC, Visibility.RESTRICTED)

# A datasheet without a license: nothing is granted beyond what the terms below say.
NO_LICENSE = LicenseInfo(
    identifier="",
    name="No license stated: all rights reserved by the provider",
    url="",
    text="",
    notes="",
    custom=True,
    flags={
        "commercial_use": False,
        "derivatives": False,
        "model_training": False,
        "share_alike": False,
        "attribution": True,
    },
)
# Flags of a custom license nobody has reviewed yet: the most restrictive reading.
CUSTOM_DEFAULT_FLAGS = dict(NO_LICENSE.flags)


# What licensing reads of a dataset, its latest version and that version's datasheet.
DATASET_FIELDS = [
    "public_id",
    "slug",
    "name",
    "organization_id",
    "organization__name",
    "organization__slug",
    "visibility",
    "removed_at",
    "latest_version_id",
    "is_paid",
    "base_price_cents",
    "currency",
    "license_abbreviation",
    "license",
    "license_url",
    "latest_version__number",
    "latest_version__archive_key",
    "latest_version__filename",
    "latest_version__size_bytes",
    "latest_version__sha256",
    "latest_version__sample_key",
    "latest_version__sample_filename",
    "latest_version__sample_size_bytes",
    "latest_version__submission_id",
    "latest_version__submission__restrictions",
    "latest_version__submission__forbidden_usage",
    "latest_version__submission__additional_conditions",
    "latest_version__submission__auto_approve_access_requests",
]
LICENSE_COLUMNS = ["identifier", "name", "url", "text", "notes", "organization_id"]
LICENSE_COLUMNS += ["content_sha256", *FLAGS]


def custom_license_sha(*, identifier: str, name: str, url: str) -> str:
    """The key of a custom license: its identifier, text (the datasheet's `license`) and URL."""
    return hashlib.sha256(f"{identifier}\n{name}\n{url}".encode()).hexdigest()


def _visible(dataset: Dataset | None, id_or_slug: str, organization) -> Dataset:
    """404 unknown or unpublished, and a private dataset to outsiders by id or slug, removed
    or not (security finding 11: never a hint that it exists); 410 removed."""
    if dataset is None or dataset.latest_version_id is None:
        raise NotFound(f"Dataset {id_or_slug} not found.")
    is_owner = organization is not None and organization.pk == dataset.organization_id
    if dataset.visibility == Visibility.PRIVATE and not is_owner:
        raise NotFound(f"Dataset {id_or_slug} not found.")
    if dataset.removed_at is not None:
        raise Gone(f"Dataset {id_or_slug} was removed from the platform.", code="dataset_removed")
    return dataset


def dataset_get(*, id_or_slug: str, organization: Organization | None) -> Dataset:
    """A published dataset by id or slug, with what licensing reads (organisation, latest
    version and its datasheet) in one query; see `_visible` for the errors."""
    rows = list(
        Dataset.objects.select_related(
            "organization", "latest_version", "latest_version__submission"
        )
        .only(*DATASET_FIELDS)
        .filter(Q(public_id=id_or_slug) | Q(slug=id_or_slug))[:1]
    )
    return _visible(rows[0] if rows else None, id_or_slug, organization)


def private_check(*, dataset: Dataset, organization: Organization | None) -> None:
    """A private dataset does not exist for anyone outside its organisation: 404, the same
    answer as an unknown id, so its existence, name and files never leak (security finding
    11)."""
    if dataset.visibility == Visibility.PRIVATE and (
        organization is None or organization.pk != dataset.organization_id
    ):
        raise NotFound(f"Dataset {dataset.public_id} not found.")


def _license_candidates(dataset: Dataset) -> list[dict]:
    """License rows of the dataset's identifier: the catalogue one and its organisation's."""
    cached = getattr(dataset, "_license_candidates", None)
    if cached is None:
        cached = list(
            License.objects.filter(identifier=dataset.license_abbreviation)
            .filter(Q(organization__isnull=True) | Q(organization_id=dataset.organization_id))
            .values(*LICENSE_COLUMNS)
        )
        dataset._license_candidates = cached
    return cached


def license_of_dataset(dataset: Dataset) -> LicenseInfo:
    """The dataset's license: the catalogue license of its identifier, else its
    organisation's custom license of that identifier, text and URL, else (a custom license
    whose row does not exist yet) the datasheet's text with restrictive flags. At most one
    query (none for a dataset from `download_context`)."""
    identifier = dataset.license_abbreviation or ""
    if not identifier:
        return NO_LICENSE
    candidates = _license_candidates(dataset)
    sha = custom_license_sha(
        identifier=identifier, name=dataset.license or "", url=dataset.license_url or ""
    )
    row = next((r for r in candidates if r["organization_id"] is None), None) or next(
        (r for r in candidates if r["content_sha256"] == sha), None
    )
    if row is not None:
        return LicenseInfo(
            identifier=row["identifier"],
            name=row["name"],
            url=row["url"],
            text=row["text"],
            notes=row["notes"],
            custom=row["organization_id"] is not None,
            flags={name: bool(row[name]) for name in FLAGS},
        )
    return LicenseInfo(
        identifier=identifier,
        name=dataset.license or identifier,
        url=dataset.license_url or "",
        text=dataset.license or "",
        notes="",
        custom=True,
        flags=dict(CUSTOM_DEFAULT_FLAGS),
    )


def dataset_terms(dataset: Dataset) -> Terms:
    """The dataset's current terms (license + datasheet of its latest version)."""
    sheet = dataset.latest_version.submission
    return render(
        dataset_id=dataset.public_id,
        license=license_of_dataset(dataset),
        restrictions=sheet.restrictions,
        forbidden_usage=sheet.forbidden_usage,
        additional_conditions=sheet.additional_conditions,
    )


def terms_accepted(*, organization: Organization, dataset: Dataset, terms_hash: str) -> bool:
    return TermsAcceptance.objects.filter(
        organization=organization, dataset=dataset, terms_hash=terms_hash
    ).exists()


def terms_acceptance_latest(
    *, organization: Organization, dataset: Dataset, terms_hash: str
) -> TermsAcceptance | None:
    """The organisation's latest acceptance of exactly this version of the terms; orders
    (part B) require one for the current hash before taking payment."""
    return (
        TermsAcceptance.objects.filter(
            organization=organization, dataset=dataset, terms_hash=terms_hash
        )
        .select_related("user")
        .first()
    )


@dataclass(frozen=True)
class AccessFacts:
    """What decides an organisation's download of a dataset besides the dataset itself."""

    accepted_hashes: frozenset[str]  # every terms version the organisation accepted
    grant_id: int | None  # an active, unexpired grant
    access_request: dict | None  # {"id", "status", "reason"} of its access request
    # {"grant", "order", "dispute", "reason"} when that grant's payment is disputed (grant suspended)
    grant_dispute: dict | None = None


_D, _V, _S = Dataset, DatasetVersion, Submission


def _columns(model, wanted: str) -> list[str]:
    """`wanted` columns of `model` in its field order (what `Model.from_db` expects)."""
    names = set(wanted.split())
    columns = [f.attname for f in model._meta.concrete_fields if f.attname in names]
    if len(columns) != len(names):
        raise LookupError(f"{model.__name__} has no column(s) {names - set(columns)}")
    return columns


_DATASET_COLUMNS = _columns(
    Dataset,
    "id public_id slug name organization_id visibility removed_at latest_version_id is_paid "
    "base_price_cents currency license_abbreviation license license_url",
)
_VERSION_COLUMNS = _columns(
    DatasetVersion,
    "id dataset_id number archive_key filename size_bytes sha256 sample_key sample_filename "
    "sample_size_bytes submission_id",
)
_SUBMISSION_COLUMNS = _columns(
    Submission, "id restrictions forbidden_usage additional_conditions auto_approve_access_requests"
)
_LICENSE_JSON = ", ".join(f"'{c}', l.{c}" for c in LICENSE_COLUMNS)
# The download hot path (E4/E6) in one statement: the dataset, its latest version and
# datasheet, the license candidates, and the caller's acceptances, grant and access request.
# Hand-written because building it with the ORM (subqueries, JSON) costs more CPU per request
# than the whole database round trip; table names come from the models.
_DOWNLOAD_SQL = f"""
SELECT {", ".join("d." + c for c in _DATASET_COLUMNS)},
       {", ".join("v." + c for c in _VERSION_COLUMNS)},
       {", ".join("s." + c for c in _SUBMISSION_COLUMNS)},
       (SELECT coalesce(json_agg(json_build_object({_LICENSE_JSON})), '[]'::json)
          FROM {License._meta.db_table} l
         WHERE l.identifier = d.license_abbreviation
           AND (l.organization_id IS NULL OR l.organization_id = d.organization_id)),
       ARRAY(SELECT DISTINCT a.terms_hash FROM {TermsAcceptance._meta.db_table} a
              WHERE a.organization_id = %(org)s AND a.dataset_id = d.id),
       (SELECT g.id FROM {Grant._meta.db_table} g
         WHERE g.organization_id = %(org)s AND g.dataset_id = d.id AND {Grant.ACTIVE_SQL}
         ORDER BY g.id LIMIT 1),
       (SELECT json_build_object('grant', g.id, 'order', o.public_id, 'dispute', o.dispute_id,
                                 'reason', o.dispute_reason)
          FROM {Grant._meta.db_table} g JOIN {Order._meta.db_table} o ON o.public_id = g.order_ref
         WHERE g.organization_id = %(org)s AND g.dataset_id = d.id AND {Grant.ACTIVE_SQL}
           AND o.dispute_status = 'open'
         ORDER BY g.id LIMIT 1),
       (SELECT json_build_object('id', r.public_id, 'status', r.status, 'reason', r.reason)
          FROM {AccessRequest._meta.db_table} r
         WHERE r.organization_id = %(org)s AND r.dataset_id = d.id)
  FROM {_D._meta.db_table} d
  LEFT JOIN {_V._meta.db_table} v ON v.id = d.latest_version_id
  LEFT JOIN {_S._meta.db_table} s ON s.id = v.submission_id
 WHERE d.public_id = %(key)s OR d.slug = %(key)s
 LIMIT 1
"""  # noqa: S608 - no user input is formatted in; values are parameters


def download_context(*, id_or_slug: str, organization: Organization) -> tuple[Dataset, AccessFacts]:
    """The dataset (as `dataset_get` returns it, same errors) and the organisation's facts
    about it, in one query."""
    row = read_row_prepared(
        _DOWNLOAD_SQL, {"key": id_or_slug, "org": organization.pk, "now": timezone.now()}
    )
    if row is None:
        raise NotFound(f"Dataset {id_or_slug} not found.")
    n_d, n_v, n_s = len(_DATASET_COLUMNS), len(_VERSION_COLUMNS), len(_SUBMISSION_COLUMNS)
    dataset = Dataset.from_db("default", _DATASET_COLUMNS, row[:n_d])
    if dataset.latest_version_id is not None:
        version = DatasetVersion.from_db("default", _VERSION_COLUMNS, row[n_d : n_d + n_v])
        submission = Submission.from_db(
            "default", _SUBMISSION_COLUMNS, row[n_d + n_v : n_d + n_v + n_s]
        )
        version.submission = submission
        dataset.latest_version = version
    licenses, accepted, grant_id, grant_dispute, request = row[n_d + n_v + n_s :]
    dataset._license_candidates = licenses
    _visible(dataset, id_or_slug, organization)
    return dataset, AccessFacts(
        accepted_hashes=frozenset(accepted),
        grant_id=grant_id,
        access_request=request,
        grant_dispute=grant_dispute,
    )


# --- licenses ------------------------------------------------------------------------------


def licenses_list(*, flags: dict[str, bool]) -> QuerySet[License]:
    """Catalogue licenses plus custom licenses used by a listed dataset, filtered by flags
    (each given flag must have the given value)."""
    listed_use = Dataset.objects.filter(
        organization_id=OuterRef("organization_id"),
        license_abbreviation=OuterRef("identifier"),
        latest_version__isnull=False,
        removed_at__isnull=True,
        visibility__in=LISTED,
    )
    qs = License.objects.filter(Q(organization__isnull=True) | Q(Exists(listed_use)))
    for name, value in flags.items():
        qs = qs.filter(**{name: value})
    return qs.order_by("identifier", "pk")


# --- grants ---------------------------------------------------------------------------------


def grant_active_for(*, organization: Organization, dataset: Dataset) -> Grant | None:
    return (
        Grant.objects.active()
        .filter(organization=organization, dataset=dataset)
        .only("pk", "public_id")
        .first()
    )


def grants_of_organization(*, organization: Organization) -> QuerySet[Grant]:
    return (
        Grant.objects.filter(organization=organization)
        .select_related("dataset", "organization")
        .order_by("-created_at", "-pk")
    )


def grant_of_organization(*, organization: Organization, grant_id: str) -> Grant:
    """Another organisation's grant is 404 (no existence leak)."""
    grant = grants_of_organization(organization=organization).filter(public_id=grant_id).first()
    if grant is None:
        raise NotFound(f"Grant {grant_id} not found.")
    return grant


# --- access requests ---------------------------------------------------------------------------


def access_requests_visible(
    *, organization: Organization, direction: str | None = None
) -> QuerySet[AccessRequest]:
    """Requests the organisation sent, received (for its datasets), or both."""
    sent = Q(organization=organization)
    received = Q(dataset__organization=organization)
    where = {"sent": sent, "received": received}.get(direction or "", sent | received)
    return (
        AccessRequest.objects.filter(where)
        .select_related("dataset", "dataset__organization", "organization")
        .order_by("-created_at", "-pk")
    )


def access_request_visible(*, organization: Organization, request_id: str) -> AccessRequest:
    found = access_requests_visible(organization=organization).filter(public_id=request_id).first()
    if found is None:
        raise NotFound(f"Access request {request_id} not found.")
    return found


# --- downloads ---------------------------------------------------------------------------------


def dataset_of_owner(*, organization: Organization, id_or_slug: str) -> Dataset:
    """A dataset of the caller's organisation (published or removed); others' are 404."""
    dataset = (
        Dataset.objects.filter(organization=organization)
        .filter(Q(public_id=id_or_slug) | Q(slug=id_or_slug))
        .defer("search_vector")
        .first()
    )
    if dataset is None:
        raise NotFound(f"Dataset {id_or_slug} not found.")
    return dataset


def downloads_of_dataset(*, dataset: Dataset) -> QuerySet[DownloadSession]:
    return (
        DownloadSession.objects.filter(dataset=dataset)
        .select_related("organization", "user", "version")
        .order_by("-created_at", "-id")
    )


def submission_terms_preview(submission: Submission) -> Terms:
    """The terms a submission's datasheet would publish: its license (catalogue or custom) and
    its restrictions. For a first version the dataset id, and so the hash, is only final at
    publication; a new version of a published dataset previews its real next terms."""
    holder = Dataset(
        organization_id=submission.organization_id,
        license_abbreviation=submission.license_abbreviation,
        license=submission.license,
        license_url=submission.license_url,
    )
    return render(
        dataset_id=submission.dataset.public_id if submission.dataset_id else "(at publication)",
        license=license_of_dataset(holder),
        restrictions=submission.restrictions,
        forbidden_usage=submission.forbidden_usage,
        additional_conditions=submission.additional_conditions,
    )


# --- disputes -------------------------------------------------------------------------------


def disputes_open() -> QuerySet[Order]:
    """Orders whose payment has an open dispute at Stripe (grant suspended, shares held)."""
    return (
        Order.objects.filter(dispute_status=Order.DisputeStatus.OPEN)
        .select_related("organization", "dataset")
        .order_by("disputed_at", "pk")
    )
