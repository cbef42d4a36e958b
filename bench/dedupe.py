"""Ingestion duplicates-check benchmark: the cost of `_known_member_hashes` (the lookup the
inspector makes with an archive's member SHA-256s) must not grow with the catalogue.

Builds its own throw-away database (`<BENCH_DB_NAME>_dedupe`, dropped and recreated, migrated;
left in place afterwards). Seeds, with set-based SQL copying production-made template rows
(bench/catalog_template.py's `insert_select`): published datasets with one version each, the
version's completed upload, its check run with a manifest of MEMBERS entries
(`[path, size, sha256]`) and, when the table exists, one `VersionMember` row per manifest entry
(what the indexed check reads). First SMALL versions, measured; then grown to LARGE versions in
the same database, measured again. Each measurement: ROUNDS lookups (median) of DIGESTS digests
(a realistic archive: KNOWN of them belong to published versions, the rest are new), each
checked to find exactly the KNOWN digests.

    bench dedupe: small_ms=<x> large_ms=<x> versions=1000/100000 ratio=<small / large>

Env: BENCH_DEDUPE_SMALL (1000), BENCH_DEDUPE_LARGE (100000), BENCH_DEDUPE_MEMBERS (20 per
version), BENCH_DEDUPE_DIGESTS (1000), BENCH_DEDUPE_KNOWN (50), BENCH_DEDUPE_ROUNDS (20)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault(
    "BENCH_SPLIT_DB_NAME", os.environ.get("BENCH_DB_NAME", "datacollective_bench") + "_dedupe"
)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import split  # noqa: E402
from harness import log  # noqa: E402

SMALL = int(os.environ.get("BENCH_DEDUPE_SMALL", "1000"))
LARGE = int(os.environ.get("BENCH_DEDUPE_LARGE", "100000"))
MEMBERS = int(os.environ.get("BENCH_DEDUPE_MEMBERS", "20"))
DIGESTS = int(os.environ.get("BENCH_DEDUPE_DIGESTS", "1000"))
KNOWN = int(os.environ.get("BENCH_DEDUPE_KNOWN", "50"))
ROUNDS = int(os.environ.get("BENCH_DEDUPE_ROUNDS", "20"))
TARGET_RATIO = 0.8


def member_sha(version_expr: str, member_expr: str) -> str:
    return (
        f"encode(sha256(convert_to('m' || {version_expr} || '-' || {member_expr}, 'UTF8')), 'hex')"
    )


def templates() -> dict[str, int]:
    """One dataset published with the ORM (its rows are copied by the seed)."""
    from django.db import transaction
    from django.utils import timezone

    from marketplace.models import CheckRun, Dataset, DatasetVersion, FileUpload, Submission
    from marketplace.services.identity import organization_create, user_create

    owner = user_create(username="bench-owner", email="owner@bench.example")
    org = organization_create(name="Bench dedupe", owner=owner)
    now = timezone.now()
    with transaction.atomic():
        submission = Submission.objects.create(
            name="Bench", organization=org, created_by=owner, status="approved"
        )
        dataset = Dataset.objects.create(
            name="Bench", slug="bench-template", organization=org, published_at=now
        )
        upload = FileUpload.objects.create(
            submission=submission,
            organization=org,
            created_by=owner,
            kind="dataset",
            state="completed",
            key="bench/template.tar.gz",
            storage_upload_id="x",
            filename="template.tar.gz",
            declared_size=1,
            stored_size=1,
            expires_at=now,
            completed_at=now,
        )
        run = CheckRun.objects.create(
            submission=submission, upload=upload, status="passed", manifest=[]
        )
        version = DatasetVersion.objects.create(
            dataset=dataset,
            number=1,
            submission=submission,
            archive_key=upload.key,
            filename=upload.filename,
            size_bytes=1,
            sha256="0" * 64,
            sha256_verified=True,
            published_at=now,
            published_by=owner,
        )
        Dataset.objects.filter(pk=dataset.pk).update(latest_version=version)
    return {
        "marketplace_dataset": dataset.pk,
        "marketplace_datasetversion": version.pk,
        "marketplace_fileupload": upload.pk,
        "marketplace_checkrun": run.pk,
        "org": org.pk,
        "submission": submission.pk,
    }


def ensure_member_table() -> None:
    """Until the member table's migration is on main, create the table from the model in this
    throw-away database (logged): the bench then measures the indexed lookup already."""
    from django.db import connection

    try:
        from marketplace.models import VersionMember
    except ImportError:
        return
    if VersionMember._meta.db_table not in connection.introspection.table_names():
        with connection.schema_editor() as editor:
            editor.create_model(VersionMember)
        log("WARNING: no migration creates marketplace_versionmember yet: created from the model")


def has_member_table() -> bool:
    from django.db import connection

    try:
        from marketplace.models import VersionMember
    except ImportError:
        return False
    return VersionMember._meta.db_table in connection.introspection.table_names()


def grow(tpl: dict[str, int], first: int, last: int) -> None:
    """Versions number `first`..`last` (1-based, bench numbering): dataset, upload, check run
    with its manifest, version, members."""
    from catalog_template import insert_select
    from django.db import connection, transaction

    t = time.monotonic()
    params: dict = {"first": first, "last": last, "m": MEMBERS}
    series = "FROM generate_series(%(first)s, %(last)s) g"
    entry = f"jsonb_build_array('data/' || k || '.wav', 1000 + k, {member_sha('g', 'k')})"
    manifest = "(SELECT jsonb_agg(" + entry + " ORDER BY k) FROM generate_series(1, %(m)s) k)"  # noqa: S608
    statements = [
        insert_select(
            "marketplace_dataset",
            {
                "id": "1000000 + g",
                "public_id": "'dsbench' || g",
                "slug": "'bench-' || g",
                "latest_version_id": "NULL",
            },
            series,
            tpl,
            params,
        ),
        insert_select(
            "marketplace_fileupload",
            {
                "id": "1000000 + g",
                "public_id": "'upbench' || g",
                "key": "'bench/' || g || '.tar.gz'",
            },
            series,
            tpl,
            params,
        ),
        insert_select(
            "marketplace_checkrun",
            {"id": "1000000 + g", "upload_id": "1000000 + g", "manifest": manifest},
            series,
            tpl,
            params,
        ),
        insert_select(
            "marketplace_datasetversion",
            {
                "id": "1000000 + g",
                "dataset_id": "1000000 + g",
                "archive_key": "'bench/' || g || '.tar.gz'",
            },
            series,
            tpl,
            params,
        ),
        "UPDATE marketplace_dataset SET latest_version_id = id "
        "WHERE id BETWEEN 1000000 + %(first)s AND 1000000 + %(last)s",
    ]
    if has_member_table():
        statements.append(
            "INSERT INTO marketplace_versionmember (version_id, dataset_id, path, size, sha256) "
            f"SELECT 1000000 + g, 1000000 + g, 'data/' || k || '.wav', 1000 + k, "
            f"{member_sha('g', 'k')} {series} CROSS JOIN generate_series(1, %(m)s) k"
        )
    with transaction.atomic(), connection.cursor() as cursor:
        # Seed rows are consistent by construction: skip the per-row foreign-key triggers
        # (millions of deferred checks at commit; this throw-away database only).
        cursor.execute("SET LOCAL session_replication_role = replica")
        for sql in statements:
            cursor.execute(sql, params)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    log(
        f"versions {first}..{last} seeded ({MEMBERS} members each"
        f"{', VersionMember rows too' if has_member_table() else ', manifests only'}) "
        f"in {time.monotonic() - t:.1f}s"
    )


def digests() -> list[str]:
    """KNOWN digests of published versions (spread over the first SMALL versions, so they are
    there at both sizes) and DIGESTS - KNOWN new ones."""
    import hashlib

    known = [
        hashlib.sha256(f"m{1 + (i * 7919) % SMALL}-{1 + i % MEMBERS}".encode()).hexdigest()
        for i in range(KNOWN)
    ]
    new = [hashlib.sha256(f"new-{i}".encode()).hexdigest() for i in range(DIGESTS - KNOWN)]
    return known + new


def measure(label: str) -> float:
    from marketplace.services.ingestion import _known_member_hashes

    wanted = digests()
    expected = set(wanted[:KNOWN])
    lookup = _known_member_hashes(exclude_dataset_id=None)
    found = lookup(wanted)  # warm-up
    if set(found) != expected:
        raise RuntimeError(f"{label}: found {len(found)} known digests, expected {len(expected)}")
    times = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        lookup(wanted)
        times.append((time.perf_counter() - t) * 1000)
    median = statistics.median(times)
    log(f"{label}: median {median:.2f} ms of {ROUNDS} (min {min(times):.2f}, max {max(times):.2f})")
    return median


def main() -> int:
    t0 = time.monotonic()
    split.setup_database()
    from django.db import connections

    ensure_member_table()
    tpl = templates()
    grow(tpl, 1, SMALL)
    small = measure(f"{SMALL} versions")
    grow(tpl, SMALL + 1, LARGE)
    large = measure(f"{LARGE} versions")
    ratio = small / large
    print(
        f"bench dedupe: small_ms={small:.2f} large_ms={large:.2f} versions={SMALL}/{LARGE} "
        f"members={MEMBERS} digests={DIGESTS} member_table={has_member_table()} "
        f"ratio={ratio:.2f}",
        flush=True,
    )
    verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
    print(f"target dedupe: ratio={ratio:.2f} (>= {TARGET_RATIO}) {verdict}", flush=True)
    connections.close_all()
    log(f"dedupe benchmark took {time.monotonic() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
