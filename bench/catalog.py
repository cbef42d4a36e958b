"""Catalogue benchmark (MDC E1, `GET /api/datasets`) against 100,000 published datasets.

First publishes one dataset the production way (API, automatic checks, review service); its rows
are the templates of the bulk seed. Then seeds with set-based SQL (INSERT ... SELECT
generate_series) organisations + owners, approved submissions, completed uploads (+ samples),
version 1 and the datasets (latest_version / size_bytes / has_sample / published_at denormalised,
search_vector filled as `dataset_search_refresh` computes it); columns the seed does not model
copy the template row's value. Checks that each seeded row has the template's shape (NULL vs
not NULL per column), then VACUUM (FULL) ANALYZE.

Then measures, each for a fixed duration after a warm-up, with the harness' load generator:
the baseline `GET /api/ping`, the first catalogue page, a full-text search and two filters.
Prints one `bench catalog: ...` line per shape; exits non-zero only on errors (non-200)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import LoadResult, Stack, load, log  # noqa: E402

N_DATASETS = int(os.environ.get("BENCH_DATASETS", "100000"))
N_ORGS = int(os.environ.get("BENCH_ORGS", "2000"))
DURATION = float(os.environ.get("BENCH_DURATION", "10"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "2"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
SLICES = int(os.environ.get("BENCH_SLICES", "5"))
SEARCH_WORD = "swahili"
TARGET_RATIO = 0.5
TARGET_P95_MS = 50.0

SHAPES = [
    ("/api/datasets", "first page, no filter"),
    (f"/api/datasets?q={SEARCH_WORD}", "full-text search"),
    ("/api/datasets?task=ASR&locale=en", "two filters"),
]

# --- vocabulary ---------------------------------------------------------------------------------
# (language name, locale, weight): weights make a realistic skew (English dominates).
LANGUAGES = [
    ("English", "en", 14),
    ("German", "de", 5),
    ("French", "fr", 5),
    ("Spanish", "es", 5),
    ("Italian", "it", 3),
    ("Portuguese", "pt", 3),
    ("Dutch", "nl", 2),
    ("Polish", "pl", 2),
    ("Russian", "ru", 2),
    ("Ukrainian", "uk", 2),
    ("Turkish", "tr", 2),
    ("Arabic", "ar", 3),
    ("Hindi", "hi", 3),
    ("Bengali", "bn", 2),
    ("Urdu", "ur", 2),
    ("Tamil", "ta", 2),
    ("Chinese", "zh", 3),
    ("Japanese", "ja", 3),
    ("Korean", "ko", 2),
    ("Vietnamese", "vi", 2),
    ("Thai", "th", 1),
    ("Indonesian", "id", 2),
    ("Swahili", "sw", 2),
    ("Yoruba", "yo", 1),
    ("Hausa", "ha", 1),
    ("Igbo", "ig", 1),
    ("Amharic", "am", 1),
    ("Kinyarwanda", "rw", 1),
    ("Zulu", "zu", 1),
    ("Welsh", "cy", 1),
    ("Irish", "ga", 1),
    ("Basque", "eu", 1),
    ("Catalan", "ca", 1),
    ("Galician", "gl", 1),
    ("Breton", "br", 1),
    ("Finnish", "fi", 1),
    ("Estonian", "et", 1),
    ("Hungarian", "hu", 1),
    ("Greek", "el", 1),
    ("Czech", "cs", 1),
    ("Romanian", "ro", 1),
    ("Persian", "fa", 2),
    ("Hebrew", "he", 1),
    ("Georgian", "ka", 1),
    ("Quechua", "qu", 1),
    ("Guarani", "gn", 1),
    ("Maori", "mi", 1),
    ("Tagalog", "tl", 1),
]
QUALIFIERS = (
    "Conversational Read Spontaneous Broadcast Medical Legal Children's Accented Noisy Studio "
    "Telephone Regional Multi-speaker Parliamentary Historical Crowdsourced Annotated Curated "
    "Open Community Elderly Whispered Emotional Far-field In-car Classroom Interview Scripted "
    "Wake-word Code-switched Dialectal Bilingual Synthetic Podcast Street"
).split()
DOMAINS = (
    "Speech;News;Dialogue;Podcasts;Audiobooks;Customer Support;Weather Reports;Sports "
    "Commentary;Finance;Agriculture;Healthcare;Education;Travel;Cooking;Radio;Call Center;"
    "Voice Commands;Lectures;Sermons;Folk Tales;Court Hearings;Meetings;Interviews;Subtitles;"
    "Song Lyrics;Product Reviews;Wikipedia;Forum Posts;Chat Logs;Emails;Recipes;Poetry;Names;"
    "Numbers;Addresses;Place Names;Questions;Instructions;Debates;Town Halls"
).split(";")
KINDS = "Corpus Dataset Collection Recordings Transcripts Benchmark Archive Set Bank Sample".split()
SOURCES = (
    "community volunteers;a public broadcaster;university students;professional voice actors;"
    "field recordings in rural villages;call-centre agents;open web pages;local radio stations;"
    "parliament sessions;podcast hosts;schoolteachers;hospital staff;farmers' cooperatives"
).split(";")
FILLER = (
    "audio transcription speaker microphone recording session utterance sentence prompt dialect "
    "accent noise quality validated reviewed segment hours minutes speakers gender age region "
    "consent licence metadata annotation label intent entity alignment timestamp phoneme lexicon "
    "vocabulary pronunciation tone pitch emotion silence overlap channel stereo mono sample rate "
    "bitrate codec compressed lossless waveform spectrogram baseline model evaluation split train "
    "test development benchmark leaderboard accuracy error rate word character token tokenizer "
    "normalised punctuation casing numerals abbreviations code-switching loanwords orthography "
    "script transliteration romanised native literacy rural urban coastal mountain island market "
    "school clinic church mosque temple radio television newspaper magazine novel poem proverb "
    "story song lullaby riddle greeting farewell weather harvest fishing trading cooking football "
    "election budget vaccine malaria drought flood earthquake festival wedding funeral ceremony "
    "tradition heritage archive museum library collection catalogue index manifest checksum "
    "volunteer contributor community cooperative university laboratory startup nonprofit "
    "foundation ministry council hospital court parliament municipality village district "
    "province capital border diaspora migrant refugee student teacher nurse doctor farmer fisher "
    "driver merchant elder child youth adult senior female male nonbinary anonymous pseudonymous "
    "redacted filtered deduplicated balanced stratified diverse representative sparse dense "
    "clean noisy reverberant far-field near-field telephone narrowband wideband studio outdoor "
    "indoor vehicle kitchen office classroom street stadium"
).split()
TASKS = ["ASR"] * 30 + ["TTS"] * 10 + ["NLP"] * 12 + ["MT"] * 8 + ["LLM"] * 8 + ["LID"] * 4
TASKS += ["LM", "NLU", "NLG", "CALL", "RAG", "CV", "ML", "OTH", "N/A", "LM", "NLU", "RAG"]
LICENSES = ["CC-BY-4.0"] * 10 + ["CC0-1.0"] * 6 + ["CC-BY-SA-4.0"] * 5 + ["CC-BY-NC-4.0"] * 4
LICENSES += ["Apache-2.0", "MIT", "ODbL-1.0", "CC-BY-NC-SA-4.0", "CC-BY-ND-4.0", "MPL-2.0"]
LICENSES += ["GPL-3.0", "Unlicense", "ODC-By-1.0", "EUPL-1.2", "OGL-UK-3.0", "NLOD-2.0"]
FORMATS = ["TSV"] * 6 + ["CSV"] * 5 + ["WAV"] * 6 + ["MP3"] * 4 + ["FLAC"] * 3 + ["JSONL"] * 4
FORMATS += ["Parquet", "Parquet", "TXT", "TXT", "OPUS", "OGG", "XML", "JSON"]
ORG_WORDS = (
    "Open Voice Lingua Polyglot Babel Echo Signal Horizon Delta Baobab Kora Meridian Atlas "
    "Aurora Harbor Summit River Cedar Granite Lumen Nova Orbit Prism Quill Sable Tundra Vertex"
).split()
ORG_SUFFIXES = (
    "Labs;Institute;Foundation;Collective;Data;AI;Research;University;Initiative;Co-op".split(";")
)

SEARCH_VECTOR_SQL = """
UPDATE marketplace_dataset SET search_vector =
    ((setweight(to_tsvector('english'::regconfig, COALESCE(name, '')), 'A')
      || setweight(to_tsvector('english'::regconfig, COALESCE(short_description, '')), 'B'))
      || setweight(to_tsvector('english'::regconfig, COALESCE(long_description, '')), 'C'))
WHERE id > %(first)s
"""

# --- the production-made template ---------------------------------------------------------------


def _archive() -> bytes:
    """A small real dataset archive: a TSV transcript index, like a speech corpus."""
    rows = ["path\tsentence\tlocale"]
    words = "habari ya asubuhi karibu sana asante rafiki shule maji chakula soko".split()
    for i in range(400):
        sentence = " ".join(words[(i * 7 + k) % len(words)] for k in range(6))
        rows.append(f"clips/sw_{i:05d}.mp3\t{sentence}\tsw")
    payload = ("\n".join(rows) + "\n").encode()
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        info = tarfile.TarInfo("swahili-read-speech/train.tsv")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def publish_real_dataset(stack: Stack) -> dict[str, int]:
    """Publish one dataset the production way: identity services for the organisation and key,
    the API for draft, datasheet, upload and submit, the Celery tasks (run eagerly here) for the
    automatic checks, the review service for approval. Returns its row id per table; these rows
    are the templates of the bulk seed."""
    import requests

    from marketplace.models import Membership, Submission
    from marketplace.services.identity import (
        api_key_create,
        organization_create,
        organization_decide_upload_access,
        organization_request_upload_access,
        user_create,
    )
    from marketplace.services.review import submission_approve
    from marketplace.tasks import submission_process_submitted

    staff = user_create(username="bench-staff", is_staff=True)
    owner = user_create(username="bench-real-owner", email="real@bench.example")
    org = organization_create(name="Bench Real Org", owner=owner)
    org = organization_request_upload_access(organization=org, actor=owner)
    org = organization_decide_upload_access(organization=org, approve=True, actor=staff)
    secret = api_key_create(user=owner, organization=org).secret

    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {secret}"
    base = stack.base_url + "/api"

    def ok(resp):
        if resp.status_code not in (200, 201):
            raise RuntimeError(f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text}")
        return resp.json()

    sid = ok(api.post(f"{base}/submissions", json={"name": "Bench Swahili Read Speech"}))[
        "submission"
    ]["id"]
    ok(
        api.patch(
            f"{base}/submissions/{sid}",
            json={
                "shortDescription": "Read speech in Swahili from community volunteers.",
                "longDescription": "Ten hours of read speech, recorded by volunteers.",
                "locale": "sw",
                "task": "ASR",
                "format": "TSV",
                "licenseAbbreviation": "CC-BY-4.0",
                "visibility": "public",
            },
        )
    )
    data = _archive()
    up = ok(
        api.post(
            f"{base}/uploads",
            json={
                "submissionId": sid,
                "filename": "data.tar.gz",
                "fileSize": len(data),
                "mimeType": "application/gzip",
            },
        )
    )
    url = ok(api.get(f"{base}/uploads/{up['fileUploadId']}/parts/1"))["url"]
    put = requests.put(url, data=data, timeout=60)
    put.raise_for_status()
    ok(
        api.post(
            f"{base}/uploads/{up['fileUploadId']}",
            json={
                "uploadId": up["uploadId"],
                "parts": [{"partNumber": 1, "etag": put.headers["ETag"].strip('"')}],
                "checksum": hashlib.sha256(data).hexdigest(),
            },
        )
    )
    ok(api.post(f"{base}/submissions/{sid}", json={"agreeToSubmit": True}))
    # No Celery worker runs in the bench: run the after-submit pipeline here, eagerly.
    submission = Submission.objects.get(public_id=sid)
    conf = submission_process_submitted.app.conf
    # The app reads CELERY_* Django settings; a plain `conf.task_always_eager = True` is
    # shadowed by them, so the namespaced key is updated.
    conf.update(CELERY_TASK_ALWAYS_EAGER=True, CELERY_TASK_EAGER_PROPAGATES=True)
    try:
        submission_process_submitted.delay(submission.pk)
    finally:
        conf.update(CELERY_TASK_ALWAYS_EAGER=False, CELERY_TASK_EAGER_PROPAGATES=False)
    submission.refresh_from_db()
    if submission.status != Submission.Status.IN_REVIEW:
        raise RuntimeError(f"after the checks the submission is {submission.status}")
    version = submission_approve(submission=submission, actor=staff)
    return {
        "marketplace_user": owner.pk,
        "marketplace_organization": org.pk,
        "marketplace_membership": Membership.objects.get(user=owner, organization=org).pk,
        "marketplace_submission": submission.pk,
        "marketplace_fileupload": submission.file_upload_id,
        "marketplace_datasetversion": version.pk,
        "marketplace_dataset": version.dataset_id,
    }


# --- bulk seed ------------------------------------------------------------------------------------


def _columns(table: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cur:
        return [c.name for c in connection.introspection.get_table_description(cur, table)]


def _model_default(table: str, column: str):
    """The value Django would write for a column the seed does not model (no template row)."""
    from django.apps import apps
    from django.db import connection

    for model in apps.get_models():
        if model._meta.db_table == table:
            for f in model._meta.concrete_fields:
                if f.column == column:
                    return f.get_db_prep_save(f.get_default(), connection)
    raise LookupError(f"{table}.{column}: no model field")


def _insert(
    table: str, exprs: dict[str, str], source: str, templates: dict[str, int] | None, params
) -> str:
    """INSERT ... SELECT with an expression for every column of `table`: the seed's own for the
    columns it models, else the production-made template row's value, else the model default."""
    from django.db import connection

    qn = connection.ops.quote_name
    cols, values = [], []
    for column in _columns(table):
        cols.append(qn(column))
        if column in exprs:
            values.append(exprs[column])
        elif templates and table in templates:
            values.append(
                f"(SELECT t.{qn(column)} FROM {table} t WHERE t.id = {int(templates[table])})"  # noqa: S608
            )
        else:
            name = f"default_{table}_{column}"
            params[name] = _model_default(table, column)
            values.append(f"%({name})s")
    return f"INSERT INTO {table} ({', '.join(cols)})\nSELECT {', '.join(values)}\n{source}"


def _seed_statements(
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
            _insert(
                "marketplace_user",
                {
                    "id": f"{off['user']} + u",
                    "password": "'!' || substr(md5(random()::text), 1, 20) "
                    "|| substr(md5(random()::text), 1, 20)",
                    "last_login": "NULL",
                    "is_superuser": "u = 1",
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
            _insert(
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
            _insert(
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
            _insert(
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
            _insert(
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
            _insert(
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
            _insert(
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
            _insert(
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


SEEDED_TABLES = (
    "marketplace_user",
    "marketplace_organization",
    "marketplace_membership",
    "marketplace_submission",
    "marketplace_fileupload",
    "marketplace_datasetversion",
    "marketplace_dataset",
)


def seed(templates: dict[str, int] | None) -> dict[str, int]:
    """Bulk-insert the catalogue in one transaction; returns the id offsets per table."""
    from django.db import connection, transaction

    t0 = time.monotonic()
    with connection.cursor() as cur:
        offsets = {}
        for table in SEEDED_TABLES:
            cur.execute("SELECT coalesce(max(id), 0) FROM " + table)  # noqa: S608 - constant
            offsets[table] = cur.fetchone()[0]
    with transaction.atomic(), connection.cursor() as cur:
        for sql, params in _seed_statements(offsets, templates):
            cur.execute(sql, params or None)
    t1 = time.monotonic()
    log(f"seeded {N_DATASETS} datasets, {N_ORGS} organisations in {t1 - t0:.1f}s")
    with connection.cursor() as cur:
        cur.execute(SEARCH_VECTOR_SQL, {"first": offsets["marketplace_dataset"]})
    log(f"search_vector filled in {time.monotonic() - t1:.1f}s")
    return offsets


def vacuum_analyze() -> None:
    """The one-shot search_vector UPDATE leaves a dead copy of every dataset row (production
    updates rows one at a time and autovacuum reuses the space), so the dataset table is
    rewritten compactly; every table is then vacuumed (visibility map) and analysed."""
    from django.db import connection

    t0 = time.monotonic()
    with connection.cursor() as cur:
        cur.execute("VACUUM (FULL, ANALYZE) marketplace_dataset")
        for table in SEEDED_TABLES:
            cur.execute("VACUUM ANALYZE " + table)
    log(f"VACUUM FULL / VACUUM ANALYZE in {time.monotonic() - t0:.1f}s")


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


# --- measurement --------------------------------------------------------------------------------


def _pool(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        latencies_ms=[ms for r in results for ms in r.latencies_ms],
        errors=sum(r.errors for r in results),
        error_samples=[e for r in results for e in r.error_samples][:5],
    )


def measure(stack: Stack) -> int:
    """Each shape is measured in SLICES slices interleaved with slices of the baseline, so that
    the load of other processes on the machine weighs on both alike; a shape's ratio is taken
    against the baseline slices measured next to it."""
    errors = 0
    slice_s = DURATION / SLICES

    def run(path: str, duration: float, warmup: float) -> LoadResult:
        nonlocal errors
        result = load(
            stack.web_port, path, duration=duration, warmup=warmup, concurrency=CONCURRENCY
        )
        if result.errors:
            errors += result.errors
            log(f"{path}: {result.errors} non-200 answers, e.g. {result.error_samples}")
        return result

    log(
        f"load: {CONCURRENCY} threads, {WARMUP:g}s warm-up + {DURATION:g}s per shape in "
        f"{SLICES} slices alternating with the baseline (gunicorn sync workers close the "
        "connection after each response)"
    )
    run("/api/ping", 0, WARMUP)
    measured = []
    for path, _what in SHAPES:
        run(path, 0, WARMUP)
        shape_slices, base_slices = [], []
        for _ in range(SLICES):
            base_slices.append(run("/api/ping", slice_s, 0))
            shape_slices.append(run(path, slice_s, 0))
        measured.append((path, _pool(shape_slices), _pool(base_slices)))
        log(
            f"{path}: baseline slices "
            + ", ".join(f"{r.rps:.0f}" for r in base_slices)
            + " rps; shape slices "
            + ", ".join(f"{r.rps:.0f}" for r in shape_slices)
            + " rps"
        )
    baseline = _pool([base for _path, _shape, base in measured])
    rows = [("/api/ping", baseline, baseline)] + [(p, r, b) for p, r, b in measured]
    for path, result, base in rows:
        ratio = result.rps / base.rps if base.rps else 0.0
        print(
            f"bench catalog: {path} rps={result.rps:.1f} p50_ms={result.percentile(50):.2f} "
            f"p95_ms={result.percentile(95):.2f} baseline_rps={base.rps:.1f} "
            f"ratio={ratio:.2f}",
            flush=True,
        )
    for path, result, base in rows[1:]:
        ratio = result.rps / base.rps if base.rps else 0.0
        p95 = result.percentile(95)
        verdict = "ok" if ratio >= TARGET_RATIO and p95 < TARGET_P95_MS else "MISSED"
        print(
            f"target catalog: {path} ratio={ratio:.2f} (>= {TARGET_RATIO}) "
            f"p95_ms={p95:.2f} (< {TARGET_P95_MS:g}) {verdict}",
            flush=True,
        )
    return errors


def report_result_sizes(stack: Stack) -> None:
    """How many rows each measured shape matches (stderr), to show the shapes are realistic."""
    import requests

    for path, what in SHAPES:
        body = requests.get(stack.base_url + path, timeout=30).json()
        log(f"{path} ({what}): total={body['total']}, items={len(body['items'])}")


def main() -> int:
    t0 = time.monotonic()
    with Stack("catalog") as stack:
        stack.django()
        try:
            templates = publish_real_dataset(stack)
        except Exception as exc:  # the flow is what it is; the seed falls back to model defaults
            templates = None
            log(f"WARNING: publishing a template dataset failed ({exc!r}); unmodelled columns")
            log("get model defaults and the seed's shape is NOT verified against production")
        offsets = seed(templates)
        if templates:
            check_seed_shape(templates, offsets)
        vacuum_analyze()
        log(f"catalogue ready in {time.monotonic() - t0:.1f}s")
        report_result_sizes(stack)
        errors = measure(stack)
    log(f"catalog benchmark took {time.monotonic() - t0:.1f}s")
    if errors:
        log(f"FAILED: {errors} non-200 answers")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
