"""Runs the catalogue benchmark's bulk seed in one transaction, fills `search_vector` as the
review service computes it, refills the word index from it, checks that seeded rows have the
template's shape, and vacuums."""

from __future__ import annotations

import time

from catalog_statements import N_DATASETS, N_ORGS, seed_statements
from harness import log

SEARCH_VECTOR_SQL = """
UPDATE marketplace_dataset SET search_vector =
    ((setweight(to_tsvector('english'::regconfig, COALESCE(name, '')), 'A')
      || setweight(to_tsvector('english'::regconfig, COALESCE(short_description, '')), 'B'))
      || setweight(to_tsvector('english'::regconfig, COALESCE(long_description, '')), 'C'))
WHERE id > %(first)s
"""

SEEDED_TABLES = (
    "marketplace_user",
    "marketplace_organization",
    "marketplace_membership",
    "marketplace_submission",
    "marketplace_fileupload",
    "marketplace_datasetversion",
    "marketplace_dataset",
)
WORD_INDEX_TABLES = ("marketplace_datasetterm", "marketplace_datasettermcount")


def seed(templates: dict[str, int] | None) -> dict[str, int]:
    """Bulk-insert the catalogue in one transaction; returns the id offsets per table."""
    from django.db import connection, transaction

    from marketplace.services.word_index import word_index_rebuild

    t0 = time.monotonic()
    with connection.cursor() as cur:
        offsets = {}
        for table in SEEDED_TABLES:
            cur.execute("SELECT coalesce(max(id), 0) FROM " + table)  # noqa: S608 - constant
            offsets[table] = cur.fetchone()[0]
    with transaction.atomic(), connection.cursor() as cur:
        for sql, params in seed_statements(offsets, templates):
            cur.execute(sql, params or None)
    t1 = time.monotonic()
    log(f"seeded {N_DATASETS} datasets, {N_ORGS} organisations in {t1 - t0:.1f}s")
    # The word index's trigger would rewrite each row's words one row at a time; the bulk
    # UPDATE bypasses it (as the seed's INSERTs bypass the foreign-key triggers) and the index
    # is then refilled in one statement, as `manage.py catalogue_terms_rebuild` does.
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(SEARCH_VECTOR_SQL, {"first": offsets["marketplace_dataset"]})
    t2 = time.monotonic()
    log(f"search_vector filled in {t2 - t1:.1f}s")
    log(f"word index: {word_index_rebuild()} rows in {time.monotonic() - t2:.1f}s")
    return offsets


def vacuum_analyze(*, full: bool = True) -> None:
    """The one-shot search_vector UPDATE leaves a dead copy of every dataset row (production
    updates rows one at a time and autovacuum reuses the space), so the dataset table is
    rewritten compactly (`full`; a reused catalogue was compacted by the run that seeded it);
    every table is then vacuumed (visibility map) and analysed."""
    from django.db import connection

    t0 = time.monotonic()
    with connection.cursor() as cur:
        if full:
            cur.execute("VACUUM (FULL, ANALYZE) marketplace_dataset")
        for table in (*SEEDED_TABLES, *WORD_INDEX_TABLES):
            cur.execute("VACUUM ANALYZE " + table)
    log(f"{'VACUUM FULL / ' if full else ''}VACUUM ANALYZE in {time.monotonic() - t0:.1f}s")


def check_seed_shape(templates: dict[str, int], offsets: dict[str, int]) -> None:
    """Each column must be NULL / non-NULL alike in the production-made template rows and in
    a seeded row of the same kind (free, public, without sample), and the bulk search_vector
    must equal what `dataset_search_refresh` writes."""
    from django.db import connection

    from marketplace.models import Dataset
    from marketplace.services.review import dataset_search_refresh

    seeded = (
        Dataset.objects.filter(
            pk__gt=offsets["marketplace_dataset"],
            has_sample=False,
            is_paid=False,
            visibility="public",
        )
        .select_related("latest_version")
        .first()
    )
    sub = seeded.latest_version.submission
    pairs = {
        "marketplace_dataset": seeded.pk,
        "marketplace_datasetversion": seeded.latest_version_id,
        "marketplace_submission": sub.pk,
        "marketplace_fileupload": sub.file_upload_id,
        "marketplace_organization": seeded.organization_id,
        "marketplace_user": sub.created_by_id,
    }
    problems = []
    with connection.cursor() as cur:
        for table, seeded_id in pairs.items():
            real_id = templates[table]
            cur.execute(
                "SELECT * FROM " + table + " WHERE id IN (%s, %s) ORDER BY id = %s",  # noqa: S608
                [real_id, seeded_id, real_id],
            )
            columns = [c.name for c in cur.description]
            rows = cur.fetchall()
            if len(rows) != 2:
                problems.append(f"{table}: rows {real_id}, {seeded_id} not found")
                continue
            seeded_row, real_row = rows
            for col, s_val, r_val in zip(columns, seeded_row, real_row, strict=True):
                if (s_val is None) != (r_val is None):
                    problems.append(f"{table}.{col}: seeded {s_val!r} vs production {r_val!r}")
    before = Dataset.objects.filter(pk=seeded.pk).values_list("search_vector", flat=True)[0]
    dataset_search_refresh(dataset_pk=seeded.pk)
    after = Dataset.objects.filter(pk=seeded.pk).values_list("search_vector", flat=True)[0]
    if before != after:
        problems.append(f"search_vector differs: bulk {before!r} vs service {after!r}")
    if problems:
        raise RuntimeError("seeded rows differ from production rows:\n  " + "\n  ".join(problems))
    log("seeded rows have the shape of the dataset published through the API")
