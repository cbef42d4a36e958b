"""The member table of published versions (marketplace/models/members.py): written once, when a
version is published, straight from its check run's manifest in one INSERT … SELECT (no rows
through Python, whatever the number of members); read by digest for the duplicates check."""

from django.db import connection

from marketplace.models import CheckRun, DatasetVersion

_INSERT = """
INSERT INTO marketplace_versionmember (version_id, dataset_id, path, size, sha256)
SELECT %s, %s, m.entry ->> 0, (m.entry ->> 1)::bigint, m.entry ->> 2
FROM marketplace_checkrun r
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(r.manifest) = 'array' THEN r.manifest ELSE '[]'::jsonb END
) AS m(entry)
WHERE r.id = %s AND m.entry ->> 2 IS NOT NULL
"""

_LOOKUP = """
SELECT DISTINCT sha256 FROM marketplace_versionmember
WHERE sha256 = ANY(%s) AND dataset_id IS DISTINCT FROM %s
"""

BATCH = 10_000


def version_members_record(*, version: DatasetVersion, run: CheckRun) -> int:
    """Record the published version's members from the manifest of the run that verified it.
    Called inside the publishing transaction; returns the number of members written."""
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [version.pk, version.dataset_id, run.pk])
        return cursor.rowcount


def member_digests_published_elsewhere(*, digests: list[str], exclude_dataset_id) -> set[str]:
    """Which of these SHA-256s occur in a published version of another dataset: one index
    lookup per digest (versionmember_sha_dataset), in batches."""
    known: set[str] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(digests), BATCH):
            cursor.execute(_LOOKUP, [digests[start : start + BATCH], exclude_dataset_id])
            known.update(row[0] for row in cursor.fetchall())
    return known
