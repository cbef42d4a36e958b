"""Catalogue reads (MDC E1–E3)."""

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from marketplace.models import Dataset, Organization, Submission, Task, Visibility
from marketplace.models.catalogue import LICENSE_FLAG_FIELDS
from marketplace.pagination import Page, paginate
from marketplace.pricing import platform_fee_cents
from marketplace.services.errors import Gone, NotFound

LISTED = (Visibility.PUBLIC, Visibility.RESTRICTED)
UPLOAD_WINDOWS = {
    "today": timedelta(days=1),
    "thisWeek": timedelta(days=7),
    "thisMonth": timedelta(days=30),
    "thisYear": timedelta(days=365),
}


@dataclass
class CatalogueQuery:
    q: str = ""
    tasks: list[str] = field(default_factory=list)
    locales: list[str] = field(default_factory=list)
    licenses: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    sort: str = ""
    direction: str = "desc"
    upload_date: str = ""
    has_sample: bool = False
    pricing: str = ""
    # Terms flags (None: no filter; True/False: the terms must allow/require it or not), keyed
    # by licensing's flag names (LICENSE_FLAG_FIELDS).
    flags: dict[str, bool] = field(default_factory=dict)
    # The price a buyer pays (base + platform fee; a free dataset costs 0), in cents.
    min_price_cents: int | None = None
    max_price_cents: int | None = None
    # The latest version's archive size, in bytes.
    min_size_bytes: int | None = None
    max_size_bytes: int | None = None
    page: int = 1
    limit: int = 24


def _base_price_at_least(total_cents: int) -> int:
    """The smallest base price whose total (base + platform fee) is at least `total_cents`. The
    total grows strictly with the base (the fee never falls), so a bisection finds it and the
    filter stays on the indexed base price whatever the fee rate."""
    low, high = 0, max(total_cents, 0)
    while low < high:
        middle = (low + high) // 2
        if middle + platform_fee_cents(middle) >= total_cents:
            high = middle
        else:
            low = middle + 1
    return low


def _price_filter(qs: QuerySet[Dataset], query: CatalogueQuery) -> QuerySet[Dataset]:
    paid = Q(is_paid=True, base_price_cents__isnull=False)
    if query.min_price_cents:  # a minimum of 0 keeps everything
        qs = qs.filter(paid, base_price_cents__gte=_base_price_at_least(query.min_price_cents))
    if query.max_price_cents is not None:
        highest_base = _base_price_at_least(query.max_price_cents + 1) - 1
        qs = qs.filter(~paid | Q(base_price_cents__lte=highest_base))
    return qs


def _published() -> QuerySet[Dataset]:
    return Dataset.objects.filter(latest_version__isnull=False, removed_at__isnull=True)


def catalogue_search(query: CatalogueQuery) -> Page:
    """Filters combine with AND, repeated values with OR; an unknown value matches nothing;
    ranges include their ends.
    Ordering always ends with the primary key so pages never repeat or skip rows. A constant
    number of queries per page whatever its size: the count and the page (with organisation and
    version joined); a text search ranks ids first, then loads the page."""
    qs = _published().filter(visibility__in=LISTED)
    if query.tasks:
        qs = qs.filter(task__in=query.tasks)
    if query.locales:
        qs = qs.filter(locale__in=query.locales)
    if query.licenses:
        qs = qs.filter(license_abbreviation__in=query.licenses)
    if query.formats:
        qs = qs.filter(format__in=query.formats)
    if query.upload_date:
        qs = qs.filter(published_at__gte=timezone.now() - UPLOAD_WINDOWS[query.upload_date])
    if query.has_sample:
        qs = qs.filter(has_sample=True)
    if query.pricing == "compensated":
        qs = qs.filter(is_paid=True)
    elif query.pricing == "free":
        qs = qs.filter(is_paid=False)
    if query.flags:
        qs = qs.filter(**{LICENSE_FLAG_FIELDS[name]: value for name, value in query.flags.items()})
    qs = _price_filter(qs, query)
    if query.min_size_bytes is not None:
        qs = qs.filter(size_bytes__gte=query.min_size_bytes)
    if query.max_size_bytes is not None:
        qs = qs.filter(size_bytes__lte=query.max_size_bytes)

    desc = query.direction != "asc"
    sort = query.sort or ("relevance" if query.q else "newest")
    if query.q:
        search = SearchQuery(query.q, search_type="websearch", config="english")
        qs = qs.filter(search_vector=search)
        if sort == "relevance":
            qs = qs.annotate(rank=SearchRank(F("search_vector"), search))
    if sort == "relevance" and query.q:
        order = ["-rank", "-id"] if desc else ["rank", "id"]
    elif sort == "size":
        order = ["-size_bytes", "-id"] if desc else ["size_bytes", "id"]
    else:  # newest, or relevance without a search text
        order = ["-published_at", "-id"] if desc else ["published_at", "id"]

    if query.q:
        # Rank and cut on the dataset table alone, then load the page's rows: joining the
        # versions and organisations of every match before the LIMIT would cost a full scan.
        ids = paginate(
            qs.order_by(*order).values_list("id", flat=True), page=query.page, limit=query.limit
        )
        rows = Dataset.objects.select_related("organization", "latest_version").defer(
            "search_vector"
        )
        by_id = {d.id: d for d in rows.filter(id__in=ids.items)} if ids.items else {}
        return dataclasses.replace(ids, items=[by_id[i] for i in ids.items if i in by_id])
    return paginate(
        qs.select_related("organization", "latest_version").defer("search_vector").order_by(*order),
        page=query.page,
        limit=query.limit,
    )


def catalogue_filters() -> dict[str, list[str]]:
    listed = _published().filter(visibility__in=LISTED)

    def distinct(column: str) -> list[str]:
        values = (
            listed.exclude(**{column: ""})
            .order_by(column)
            .values_list(column, flat=True)
            .distinct()
        )
        return list(values)

    return {
        "tasks": [t.value for t in Task],
        "locales": distinct("locale"),
        "licenses": distinct("license_abbreviation"),
        "formats": distinct("format"),
    }


def dataset_lookup(*, id_or_slug: str, organization=None) -> Dataset:
    """E3: a published dataset by id or slug. Unpublished ones are 404 to everyone, removed ones
    410, and a private one is 404 to everyone outside its organisation, by id as by slug: no
    reduced record, no filename (security finding 11)."""
    dataset = (
        Dataset.objects.select_related("organization", "latest_version")
        .filter(Q(public_id=id_or_slug) | Q(slug=id_or_slug))
        .first()
    )
    if dataset is None or dataset.latest_version_id is None:
        raise NotFound(f"Dataset {id_or_slug} not found.")
    if dataset.visibility == Visibility.PRIVATE and (
        organization is None or organization.pk != dataset.organization_id
    ):
        raise NotFound(f"Dataset {id_or_slug} not found.")
    if dataset.removed_at is not None:
        raise Gone(f"Dataset {id_or_slug} was removed from the platform.", code="dataset_removed")
    return dataset


# --- submissions (GET /api/submissions) ----------------------------------------------------------


def submissions_of_organization(
    *, organization: Organization, status: str | None = None
) -> QuerySet[Submission]:
    """The organisation's submissions, newest first, without the deleted ones (gone, 410 by
    id); what `submission_wire` reads in the same query."""
    rows = (
        Submission.objects.filter(organization=organization)
        .exclude(status=Submission.Status.DELETED)
        .select_related("file_upload", "sample_upload", "dataset")
        .order_by("-created_at", "-pk")
    )
    return rows.filter(status=status) if status else rows
