"""The catalogue benchmark's template: one dataset published the production way (API, automatic
checks, review service). The bulk seed copies the values of its rows into the columns it does not
model (`insert_select`), and `catalog_seed.check_seed_shape` compares seeded rows against it."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

from harness import Stack, bench_party


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

    from marketplace.models import Membership, Submission, User
    from marketplace.services.review import submission_approve
    from marketplace.tasks import submission_process_submitted

    issued = bench_party(username="bench-real-owner", org_name="Bench Real Org", uploads=True)
    secret, owner, org = issued.secret, issued.key.user, issued.key.organization
    staff = User.objects.get(username="bench-staff")

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


def insert_select(
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
