"""Catalogue reads (MDC E1–E3)."""

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from marketplace.models import Dataset, Task, Visibility
from marketplace.pagination import Page, paginate
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
    page: int = 1
    limit: int = 24


def _published() -> QuerySet[Dataset]:
    return Dataset.objects.filter(latest_version__isnull=False, removed_at__isnull=True)


def catalogue_search(query: CatalogueQuery) -> Page:
    """Filters combine with AND, repeated values with OR; an unknown value matches nothing.
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
