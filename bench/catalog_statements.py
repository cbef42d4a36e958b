"""The bulk seed of the catalogue benchmark as SQL: set-based INSERT ... SELECT statements over
generate_series for organisations with owners, approved submissions, completed uploads
(+ samples), version 1 and the published datasets, built from the vocabulary."""

from __future__ import annotations

import os

from catalog_template import insert_select
from catalog_vocabulary import (
    DOMAINS,
    FILLER,
    FORMATS,
    KINDS,
    LANGUAGES,
    LICENSES,
    ORG_SUFFIXES,
    ORG_WORDS,
    QUALIFIERS,
    SOURCES,
    TASKS,
)

N_DATASETS = int(os.environ.get("BENCH_DATASETS", "1000000"))
N_ORGS = int(os.environ.get("BENCH_ORGS", str(max(1, N_DATASETS // 50))))


def seed_statements(
    offsets: dict[str, int], templates: dict[str, int] | None
) -> list[tuple[str, dict]]:
    """The statements, in order, with their parameters. Every table's new ids follow its
    current maximum (`offsets`); foreign keys are deferred to the commit."""
    languages = [name for name, _locale, weight in LANGUAGES for _ in range(weight)]
    locales = [locale for _name, locale, weight in LANGUAGES for _ in range(weight)]
    params = {
        "n": N_DATASETS,
        "n_orgs": N_ORGS,
        "languages": languages,
        "locales": locales,
        "qualifiers": QUALIFIERS,
        "domains": DOMAINS,
        "kinds": KINDS,
        "sources": SOURCES,
        "filler": FILLER,
        "tasks": TASKS,
        "licenses": LICENSES,
        "formats": FORMATS,
        "org_words": ORG_WORDS,
        "org_suffixes": ORG_SUFFIXES,
    }
    off = {table.removeprefix("marketplace_"): str(int(n)) for table, n in offsets.items()}
    reviewer = f"{off['user']} + 1"

    def pick(array: str) -> str:
        return f"(%({array})s::text[])[1 + floor(random() * cardinality(%({array})s::text[]))::int]"

    archive_key = (
        "'uploads/' || s.org || '/' || s.sub_public_id || '/' || s.fu_public_id || '/data.tar.gz'"
    )
    sample_key = (
        "'uploads/' || s.org || '/' || s.sub_public_id || '/' || s.sample_public_id "
        "|| '/sample.tar.gz'"
    )
    sample_sha = "encode(sha256(('sample' || s.g)::bytea), 'hex')"
    statements: list[tuple[str, dict]] = [("SELECT setseed(0.42)", {})]

    # A staff reviewer, then one owner per organisation.
    statements.append(
        (
            insert_select(
                "marketplace_user",
                {
                    "id": f"{off['user']} + u",
                    "password": "'!' || substr(md5(random()::text), 1, 20) "
                    "|| substr(md5(random()::text), 1, 20)",
                    "last_login": "NULL",
                    # Staff, never a superuser (the reviewer only acts through the services).
                    "is_superuser": "false",
                    "username": "CASE WHEN u = 1 THEN 'bench-reviewer' "
                    "ELSE 'owner' || (u - 1) END",
                    "first_name": "''",
                    "last_name": "''",
                    "is_staff": "u = 1",
                    "is_active": "true",
                    "date_joined": "now() - interval '400 days'",
                    "email": "CASE WHEN u = 1 THEN 'reviewer@bench.example' "
                    "ELSE 'owner' || (u - 1) || '@bench.example' END",
                },
                "FROM generate_series(1, %(n_orgs)s + 1) u",
                templates,
                params,
            ),
            params,
        )
    )
    statements.append(
        (
            insert_select(
                "marketplace_organization",
                {
                    "id": f"{off['organization']} + o",
                    "name": "name",
                    "slug": "lower(regexp_replace(name, '[^A-Za-z0-9]+', '-', 'g')) || '-' || o",
                    "upload_access": "'approved'",
                    "upload_access_requested_at": "created + interval '1 day'",
                    "upload_approved_at": "created + interval '2 days'",
                    "created_at": "created",
                },
                f"""FROM (
                    SELECT o, {pick("org_words")} || ' ' || {pick("org_words")} || ' '
                           || {pick("org_suffixes")} AS name,
                           now() - interval '400 days' + (o %% 20) * interval '1 day' AS created
                    FROM generate_series(1, %(n_orgs)s) o
                ) s""",
                templates,
                params,
            ),
            params,
        )
    )
    statements.append(
        (
            insert_select(
                "marketplace_membership",
                {
                    "id": f"{off['membership']} + o",
                    "role": "'owner'",
                    "created_at": "now() - interval '400 days'",
                    "user_id": f"{reviewer} + o",
                    "organization_id": f"{off['organization']} + o",
                },
                "FROM generate_series(1, %(n_orgs)s) o",
                templates,
                params,
            ),
            params,
        )
    )
    # One row of random choices per dataset; the tables below are projections of it.
    statements.append(
        (
            f"""
            CREATE TEMP TABLE seed ON COMMIT DROP AS
            SELECT g,
                1 + floor(random() * %(n_orgs)s)::int AS org_n,
                (%(languages)s::text[])[lang_i] AS language,
                (%(locales)s::text[])[lang_i] AS locale,
                {pick("qualifiers")} AS qualifier,
                {pick("domains")} AS domain,
                {pick("kinds")} AS kind,
                {pick("sources")} AS source,
                {pick("tasks")} AS task,
                {pick("licenses")} AS license_abbreviation,
                {pick("formats")} AS format,
                (SELECT string_agg({pick("filler")}, ' ')
                   FROM generate_series(1, 24 + (g %% 13))) AS filler,
                floor(exp(ln(1e6) + random() * (ln(5e11) - ln(1e6))))::bigint AS size_bytes,
                random() < 0.4 AS has_sample,
                CASE WHEN random() < 0.88 THEN 'public' ELSE 'restricted' END AS visibility,
                random() < 0.2 AS is_paid,
                (100 * (1 + floor(random() * 5000)))::bigint AS price,
                5 + floor(random() * 2000)::int AS hours,
                now() - random() * interval '365 days' AS published_at
            FROM (
                SELECT g, 1 + floor(random() * cardinality(%(languages)s::text[]))::int AS lang_i
                FROM generate_series(1, %(n)s) g
            ) r
            """,  # noqa: S608 - constants only, values are bound parameters
            params,
        )
    )
    statements.append(
        (
            """
            ALTER TABLE seed ADD COLUMN org bigint, ADD COLUMN owner bigint, ADD COLUMN name text,
                ADD COLUMN slug text, ADD COLUMN short_description text,
                ADD COLUMN long_description text, ADD COLUMN sub_public_id text,
                ADD COLUMN fu_public_id text, ADD COLUMN sample_public_id text,
                ADD COLUMN sha256 text, ADD COLUMN sample_size bigint
            """,
            {},
        )
    )
    statements.append(
        (
            f"""
            UPDATE seed SET
                org = {off["organization"]} + org_n,
                owner = {reviewer} + org_n,
                name = qualifier || ' ' || language || ' ' || domain || ' ' || kind,
                slug = left(lower(regexp_replace(qualifier || ' ' || language || ' ' || domain
                            || ' ' || kind, '[^A-Za-z0-9]+', '-', 'g')), 100) || '-' || g,
                short_description = qualifier || ' ' || lower(domain) || ' in ' || language
                    || ' from ' || source || ', ' || hours || ' hours.',
                long_description = 'This ' || lower(kind) || ' contains ' || hours
                    || ' hours of ' || lower(qualifier) || ' ' || lower(domain) || ' in '
                    || language || ' (' || locale || '), contributed by ' || source || '. '
                    || initcap(filler) || '.',
                sub_public_id = 'sub' || substr(md5('sub' || g), 1, 20),
                fu_public_id = 'fu' || substr(md5('fu' || g), 1, 20),
                sample_public_id = 'fu' || substr(md5('fs' || g), 1, 20),
                sha256 = encode(sha256(('archive' || g)::bytea), 'hex'),
                sample_size = greatest(1000, size_bytes / 1000)
            """,  # noqa: S608 - integers only
            {},
        )
    )
    datasheet = {
        "name": "s.name",
        "short_description": "s.short_description",
        "long_description": "s.long_description",
        "locale": "s.locale",
        "task": "s.task",
        "format": "s.format",
        "license_abbreviation": "s.license_abbreviation",
        "license": "''",
        "license_url": "''",
        "visibility": "s.visibility",
        "is_paid": "s.is_paid",
        "base_price_cents": "CASE WHEN s.is_paid THEN s.price END",
        "currency": "'usd'",
        "organization_id": "s.org",
    }
    # Approved submissions (drafted three days before publication).
    statements.append(
        (
            insert_select(
                "marketplace_submission",
                {
                    **datasheet,
                    "id": f"{off['submission']} + s.g",
                    "public_id": "s.sub_public_id",
                    "status": "'approved'",
                    "point_of_contact_full_name": "'Contact ' || s.org_n",
                    "point_of_contact_email": "'contact' || s.org_n || '@bench.example'",
                    "show_contact_info": "true",
                    "auto_approve_access_requests": "s.visibility = 'restricted'",
                    "submitted_at": "s.published_at - interval '1 day'",
                    "reviewed_at": "s.published_at",
                    "review_note": "''",
                    "deleted_at": "NULL",
                    "created_at": "s.published_at - interval '3 days'",
                    "updated_at": "s.published_at",
                    "created_by_id": "s.owner",
                    "dataset_id": f"{off['dataset']} + s.g",
                    "file_upload_id": f"{off['fileupload']} + s.g",
                    "reviewed_by_id": reviewer,
                    "sample_upload_id": f"CASE WHEN s.has_sample THEN {off['fileupload']} "
                    "+ %(n)s + s.g END",
                },
                "FROM seed s",
                templates,
                params,
            ),
            params,
        )
    )
    # Completed uploads: the dataset archives, then the samples.
    upload = {
        "state": "'completed'",
        "expires_at": "s.published_at + interval '5 days'",
        "created_at": "s.published_at - interval '2 days'",
        "completed_at": "s.published_at - interval '1 day'",
        "created_by_id": "s.owner",
        "organization_id": "s.org",
        "submission_id": f"{off['submission']} + s.g",
    }
    statements.append(
        (
            insert_select(
                "marketplace_fileupload",
                {
                    **upload,
                    "id": f"{off['fileupload']} + s.g",
                    "public_id": "s.fu_public_id",
                    "kind": "'dataset'",
                    "key": archive_key,
                    "storage_upload_id": "md5('upload' || s.g)",
                    "filename": "'data.tar.gz'",
                    "declared_size": "s.size_bytes",
                    "declared_sha256": "s.sha256",
                    "stored_size": "s.size_bytes",
                    "parts_count": "greatest(1, ceil(s.size_bytes / 10485760.0))::int",
                },
                "FROM seed s",
                templates,
                params,
            ),
            params,
        )
    )
    statements.append(
        (
            insert_select(
                "marketplace_fileupload",
                {
                    **upload,
                    "id": f"{off['fileupload']} + %(n)s + s.g",
                    "public_id": "s.sample_public_id",
                    "kind": "'sample'",
                    "key": sample_key,
                    "storage_upload_id": "md5('sample' || s.g)",
                    "filename": "'sample.tar.gz'",
                    "declared_size": "s.sample_size",
                    "declared_sha256": sample_sha,
                    "stored_size": "s.sample_size",
                    "parts_count": "1",
                },
                "FROM seed s WHERE s.has_sample",
                templates,
                params,
            ),
            params,
        )
    )
    statements.append(
        (
            insert_select(
                "marketplace_datasetversion",
                {
                    "id": f"{off['datasetversion']} + s.g",
                    "number": "1",
                    "archive_key": archive_key,
                    "filename": "s.slug || '-v1.tar.gz'",
                    "size_bytes": "s.size_bytes",
                    "sha256": "s.sha256",
                    "sample_key": f"CASE WHEN s.has_sample THEN {sample_key} ELSE '' END",
                    "sample_filename": "CASE WHEN s.has_sample "
                    "THEN s.slug || '-v1-sample.tar.gz' ELSE '' END",
                    "sample_size_bytes": "CASE WHEN s.has_sample THEN s.sample_size END",
                    "sample_sha256": f"CASE WHEN s.has_sample THEN {sample_sha} ELSE '' END",
                    "published_at": "s.published_at",
                    "dataset_id": f"{off['dataset']} + s.g",
                    "published_by_id": reviewer,
                    "submission_id": f"{off['submission']} + s.g",
                },
                "FROM seed s",
                templates,
                params,
            ),
            params,
        )
    )
    statements.append(
        (
            insert_select(
                "marketplace_dataset",
                {
                    **datasheet,
                    "id": f"{off['dataset']} + s.g",
                    "public_id": "'ds' || substr(md5('ds' || s.g), 1, 20)",
                    "slug": "s.slug",
                    "size_bytes": "s.size_bytes",
                    "has_sample": "s.has_sample",
                    "published_at": "s.published_at",
                    "removed_at": "NULL",
                    "removal_reason": "''",
                    "search_vector": "NULL",  # filled below, as the review service does
                    "created_at": "s.published_at",
                    "updated_at": "s.published_at",
                    "latest_version_id": f"{off['datasetversion']} + s.g",
                },
                "FROM seed s",
                templates,
                params,
            ),
            params,
        )
    )
    # Identity sequences continue after the explicit ids (a gap in the uploads is harmless).
    for table, count in (
        ("marketplace_user", N_ORGS + 1),
        ("marketplace_organization", N_ORGS),
        ("marketplace_membership", N_ORGS),
        ("marketplace_submission", N_DATASETS),
        ("marketplace_fileupload", 2 * N_DATASETS),
        ("marketplace_datasetversion", N_DATASETS),
        ("marketplace_dataset", N_DATASETS),
    ):
        statements.append(
            (
                "SELECT setval(pg_get_serial_sequence(%(t)s, 'id'), %(v)s)",
                {"t": table, "v": offsets[table] + count},
            )
        )
    return statements
