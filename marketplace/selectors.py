"""Catalogue reads (MDC E1–E3)."""

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, fields
from datetime import timedelta
from functools import cache

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from marketplace.models import (
    Dataset,
    DatasetVersion,
    Organization,
    Submission,
    Task,
    Visibility,
)
from marketplace.models.catalogue import LICENSE_FLAG_FIELDS, LISTED_CONDITION
from marketplace.models.search import DatasetTerm, DatasetTermCount
from marketplace.pagination import Page
from marketplace.prepared import RowReader
from marketplace.pricing import platform_fee_cents
from marketplace.services.errors import Gone, NotFound

# The catalogue queries' work_mem (set per transaction): large enough that the bitmap of the
# commonest search word over 1,000,000 datasets stays exact.
CATALOGUE_WORK_MEM = "32MB"
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


def _listed() -> QuerySet[Dataset]:
    """What E1 lists, filtered exactly as the partial indexes' predicate is written (the
    planner only uses a partial index when it can prove the query's WHERE implies it)."""
    return Dataset.objects.filter(LISTED_CONDITION)


# --- E1 in SQL --------------------------------------------------------------------------------
# The catalogue's count and page are written in SQL: building and compiling the same two
# querysets took a quarter of an uncached request's time (the SQL itself a few milliseconds).
# The rows become the same model instances the ORM would make (organisation and version
# cached on the dataset, search_vector deferred), so `dataset_card` and E3 share one renderer.

# The partial indexes' predicate (LISTED_CONDITION), spelled as the ORM spells it: PostgreSQL
# only uses a partial index when it can prove that the WHERE implies its predicate.
_LISTED_SQL = (
    "d.latest_version_id IS NOT NULL AND d.removed_at IS NULL"
    f" AND d.visibility IN ('{Visibility.PUBLIC.value}', '{Visibility.RESTRICTED.value}')"
)
_TSQUERY = "websearch_to_tsquery('english'::regconfig, %s)"
_ORDER_COLUMNS = {"newest": "d.published_at", "size": "d.size_bytes", "relevance": "rank"}


def _in(column: str, values: list, where: list[str], params: list) -> None:
    where.append(f"{column} IN ({', '.join(['%s'] * len(values))})")
    params.extend(values)


def _where(query: CatalogueQuery, tsquery: tuple[str, str] | None = None) -> tuple[str, list]:
    """The WHERE of E1 (on `marketplace_dataset d`) and its parameters; `tsquery` is the text
    search's SQL and parameter (`_search_tsquery`)."""
    where, params = [_LISTED_SQL], []
    for column, values in (
        ("d.task", query.tasks),
        ("d.locale", query.locales),
        ("d.license_abbreviation", query.licenses),
        ("d.format", query.formats),
    ):
        if values:
            _in(column, values, where, params)
    if query.upload_date:
        where.append("d.published_at >= %s")
        params.append(timezone.now() - UPLOAD_WINDOWS[query.upload_date])
    if query.has_sample:
        where.append("d.has_sample")
    if query.pricing == "compensated":
        where.append("d.is_paid")
    elif query.pricing == "free":
        where.append("NOT d.is_paid")
    for name, value in query.flags.items():
        where.append(("d.%s" if value else "NOT d.%s") % LICENSE_FLAG_FIELDS[name])
    paid = "(d.is_paid AND d.base_price_cents IS NOT NULL)"
    if query.min_price_cents:  # a minimum of 0 keeps everything
        where.append(f"{paid} AND d.base_price_cents >= %s")
        params.append(_base_price_at_least(query.min_price_cents))
    if query.max_price_cents is not None:
        where.append(f"(NOT {paid} OR d.base_price_cents <= %s)")
        params.append(_base_price_at_least(query.max_price_cents + 1) - 1)
    if query.min_size_bytes is not None:
        where.append("d.size_bytes >= %s")
        params.append(query.min_size_bytes)
    if query.max_size_bytes is not None:
        where.append("d.size_bytes <= %s")
        params.append(query.max_size_bytes)
    if query.q:
        sql, param = tsquery or (_TSQUERY, query.q)
        where.append(f"d.search_vector @@ {sql}")
        params.append(param)
    return " AND ".join(f"({condition})" for condition in where), params


@cache
def _page_columns() -> tuple[str, list[RowReader]]:
    """The page's select list (the dataset without its search_vector, its latest version, its
    organisation) and, per model in that order, the reader of its columns."""
    readers = [
        RowReader.of(
            Dataset, [f for f in Dataset._meta.concrete_fields if f.name != "search_vector"]
        ),
        RowReader.of(DatasetVersion),
        RowReader.of(Organization),
    ]
    aliases = ("d", "v", "o")
    select = ", ".join(c for r, a in zip(readers, aliases, strict=True) for c in r.columns(a))
    return select, readers


_PAGE_JOINS = (
    "JOIN marketplace_datasetversion v ON v.id = d.latest_version_id "
    "JOIN marketplace_organization o ON o.id = d.organization_id"
)


def _datasets(rows) -> list[Dataset]:
    """Model instances as the ORM makes them, the version and organisation cached on the
    dataset as `select_related` caches them."""
    _select, readers = _page_columns()
    version_field = Dataset._meta.get_field("latest_version")
    organization_field = Dataset._meta.get_field("organization")
    items = []
    for row in rows:
        instances, start = [], 0
        for reader in readers:
            instances.append(reader.instance(row[start : start + len(reader.fields)]))
            start += len(reader.fields)
        dataset, version, organization = instances
        version_field.set_cached_value(dataset, version)
        organization_field.set_cached_value(dataset, organization)
        items.append(dataset)
    return items


@contextmanager
def _text_search_memory():
    """A transaction with the catalogue's work_mem (LOCAL: this transaction only). The bitmap
    of a common search word (a sixth of 1,000,000 datasets) goes lossy at the default 4 MB and
    every row of a lossy page is rechecked against the query. The filters' counts are index
    ranges: no bitmap, no transaction (its BEGIN and COMMIT are two more round trips)."""
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{CATALOGUE_WORK_MEM}'")
        yield


# --- one-word searches, from the word index ------------------------------------------------------
# A search for one word matches the datasets holding that word. A plain word is one lexeme; a
# hyphenated one is looked up as the whole word ("code-switching" → 'code-switch'), which its
# parse adds to a dataset's search_vector exactly where the text has it (websearch would make it
# the phrase 'code-switch' <-> 'code' <-> 'switch', which only that parse produces, and recheck
# every candidate's positions).
# One-word searches (the commonest kind, and over a large catalogue the costliest: a common word
# matches a sixth of it) sorted by relevance or date and narrowed by nothing but pricing are
# answered from the word index (marketplace/models/search.py): the count is one row, the page an
# index range of `limit` rows, in the order of the GIN path (the index holds each match's ts_rank
# for the word). Every other search runs on the GIN index.
_WORD_SORTS = {"relevance": "t.rank", "newest": "t.published_at"}
_WORD_FIELDS = {"q", "pricing", "sort", "direction", "page", "limit"}
_PAID = {"compensated": True, "free": False}
_COMPOUND = ("asciihword", "hword", "numhword")
_PARTS = (*_COMPOUND, "hword_asciipart", "hword_part", "hword_numpart", "blank")
# The search's word (NULL when it is not one word: a phrase, an OR, a negation, several
# words), and how many listed datasets hold it (with the pricing filter, if any).
_WORD_SQL = f"""
WITH w AS (
  SELECT CASE
    WHEN numnode(q) = 1 THEN (
      SELECT l FROM (SELECT (tsvector_to_array(querytree(q)::tsvector))[1] AS l) one
       WHERE q = marketplace_lexeme_tsquery(l))
    WHEN %(hyphen)s THEN (
      SELECT CASE WHEN count(*) FILTER (WHERE alias IN {_COMPOUND}) = 1
                   AND count(*) FILTER (WHERE alias NOT IN {_PARTS}) = 0
             THEN max(lexemes[1]) FILTER (WHERE alias IN {_COMPOUND}) END
        FROM ts_debug('english'::regconfig, %(q)s))
  END AS lexeme
  FROM websearch_to_tsquery('english'::regconfig, %(q)s) q
)
SELECT w.lexeme, (SELECT coalesce(sum(c.n), 0)::bigint FROM {DatasetTermCount._meta.db_table} c
                   WHERE c.lexeme = w.lexeme AND c.is_paid = ANY(%(paid)s))
  FROM w
"""  # noqa: S608 - constants only


def _others(query: CatalogueQuery) -> dict:
    return {f.name: getattr(query, f.name) for f in fields(query) if f.name not in _WORD_FIELDS}


_NOT_NARROWED = _others(CatalogueQuery())


def _search_word(query: CatalogueQuery) -> tuple[str | None, int]:
    """The search's word (None if it is not one word) and the listed datasets holding it,
    counted with the query's pricing filter."""
    paid = _PAID.get(query.pricing)
    with connection.cursor() as cursor:
        cursor.execute(
            _WORD_SQL,
            {
                "q": query.q,
                "hyphen": "-" in query.q and not query.q.strip().startswith("-"),
                "paid": [True, False] if paid is None else [paid],
            },
        )
        return cursor.fetchone()


def _word_search(
    query: CatalogueQuery, lexeme: str, total: int, sort: str, direction: str, offset: int
) -> Page:
    """The page of a one-word search from the word index: only for a search narrowed by
    nothing but pricing (every other field compared with its default, so a filter added later
    is never ignored here) and sorted by relevance or date."""
    paid = _PAID.get(query.pricing)
    items = []
    if offset < total:
        select, _models = _page_columns()
        key = _WORD_SORTS[sort]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {select} FROM (SELECT t.dataset_id, {key} AS k "  # noqa: S608 - constants
                f"FROM {DatasetTerm._meta.db_table} t WHERE t.lexeme = %s"
                f"{'' if paid is None else ' AND t.is_paid = %s'} "
                f"ORDER BY {key} {direction}, t.dataset_id {direction} LIMIT %s OFFSET %s) p "
                f"JOIN marketplace_dataset d ON d.id = p.dataset_id {_PAGE_JOINS} "
                f"ORDER BY p.k {direction}, p.dataset_id {direction}",
                [lexeme, *([] if paid is None else [paid]), query.limit, offset],
            )
            items = _datasets(cursor.fetchall())
    return Page(items=items, total=total, page=query.page, limit=query.limit)


def catalogue_search(query: CatalogueQuery) -> Page:
    """Filters combine with AND, repeated values with OR; an unknown value matches nothing;
    ranges include their ends.
    Ordering always ends with the primary key so pages never repeat or skip rows. A constant
    number of queries per page whatever its size: a text search's word (the word index answers
    a one-word search); then the exact count and the page (with organisation and version
    joined), or, by relevance, one statement that ranks and counts the matches on the dataset
    table alone, cuts the page and joins its rows (+ the count for a page past the end)."""
    sort = query.sort or ("relevance" if query.q else "newest")
    if sort == "relevance" and not query.q:
        sort = "newest"
    direction = "ASC" if query.direction == "asc" else "DESC"
    order = f"{_ORDER_COLUMNS[sort]} {direction}, d.id {direction}"
    offset = (query.page - 1) * query.limit
    tsquery = (_TSQUERY, query.q)
    by_word = sort in _WORD_SORTS and _others(query) == _NOT_NARROWED
    # The word is looked up when the word index may answer, or to read a hyphenated word as one
    # (a plain word's lexeme is the websearch query itself: no round trip for it).
    if query.q and (by_word or "-" in query.q):
        lexeme, word_total = _search_word(query)
        if lexeme is not None and by_word:
            return _word_search(query, lexeme, word_total, sort, direction, offset)
        if lexeme is not None:
            tsquery = ("marketplace_lexeme_tsquery(%s)", lexeme)
    where, params = _where(query, tsquery)
    select, _models = _page_columns()
    joins = _PAGE_JOINS
    count_sql = f"SELECT count(*) FROM marketplace_dataset d WHERE {where}"  # noqa: S608
    with (
        _text_search_memory() if query.q else nullcontext(),
        connection.cursor() as cursor,
    ):
        if sort == "relevance":
            # Rank every match once: the count comes with the ranking pass (a window over all
            # matches, before the cut), not from a second visit of the same heap pages. Then
            # join the page's rows only (joining the versions and organisations of every
            # match before the LIMIT would cost a full scan).
            cursor.execute(
                f"SELECT {select}, p.total FROM (SELECT d.id, count(*) OVER () AS total, "  # noqa: S608 - built from constants
                f"ts_rank(d.search_vector, {tsquery[0]}) AS rank FROM marketplace_dataset d "
                f"WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s) p "
                f"JOIN marketplace_dataset d ON d.id = p.id {joins} "
                f"ORDER BY p.rank {direction}, p.id {direction}",
                [tsquery[1], *params, query.limit, offset],
            )
            rows = cursor.fetchall()
            if rows or offset == 0:
                total = rows[0][-1] if rows else 0
                return Page(
                    items=_datasets(row[:-1] for row in rows),
                    total=total,
                    page=query.page,
                    limit=query.limit,
                )
            cursor.execute(count_sql, params)  # a page past the end: its real total
            return Page(items=[], total=cursor.fetchone()[0], page=query.page, limit=query.limit)
        cursor.execute(count_sql, params)
        total = cursor.fetchone()[0]
        items = []
        if offset < total:
            cursor.execute(
                f"SELECT {select} FROM marketplace_dataset d {joins} WHERE {where} "  # noqa: S608
                f"ORDER BY {order} LIMIT %s OFFSET %s",
                [*params, query.limit, offset],
            )
            items = _datasets(cursor.fetchall())
    return Page(items=items, total=total, page=query.page, limit=query.limit)


def catalogue_filters() -> dict[str, list[str]]:
    listed = _listed()

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
