"""The upload lookup behind every part URL (U2), listing, assembly, completion and abort is one
prepared statement (marketplace.prepared, DB_PREPARED_STATEMENTS): planned once per connection,
then only executed; with the setting off nothing is prepared; either way the answers, the 404s
of another organisation's upload, another submission's route and the other kind of upload, and
the 410 of a deleted submission are the same."""

import pytest
from django.db import connection

from marketplace.models import FileUpload, Submission
from marketplace.services.uploads.parts import _LOOKUP_SQL
from tests.marketplace.test_part_url_probe import start_upload
from tests.parties import party

pytestmark = pytest.mark.django_db

LOOKUP_PREFIX = _LOOKUP_SQL[: _LOOKUP_SQL.index("%(")].strip()


def lookups_prepared() -> list[int]:
    """The executions of each prepared copy of the upload lookup on this connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        return [n for statement, n in cursor.fetchall() if statement.strip() == _squeezed()]


def _squeezed() -> str:
    """The lookup as PostgreSQL shows it: the placeholders numbered ($1, $2, ...)."""
    sql, seen = _LOOKUP_SQL, {}
    for name in ("upload", "org", "kind", "submission"):
        seen.setdefault(name, f"${len(seen) + 1}")
        sql = sql.replace(f"%({name})s", seen[name])
    return sql.strip()


def answers(client, fid: str, sid: str, outsider_client) -> list:
    """Status and error of: two part URLs, the listing, another organisation's request, the
    sample route naming this dataset upload, and a route naming another submission."""
    calls = [
        client.get(f"/api/uploads/{fid}/parts/1"),
        client.get(f"/api/uploads/{fid}/parts/2"),
        client.get(f"/api/uploads/{fid}/parts"),
        outsider_client.get(f"/api/uploads/{fid}/parts/1"),
        client.get(f"/api/submissions/{sid}/sample/{fid}/parts/1"),
        client.get(f"/api/submissions/sub_other/sample/{fid}/parts/1"),
    ]
    return [(r.status_code, r.json().get("error")) for r in calls]


def test_the_lookup_is_prepared_once_and_answers_as_unprepared(settings, provider):
    assert settings.DB_PREPARED_STATEMENTS  # the default
    client, fid = start_upload(provider.secret)
    sid = FileUpload.objects.get(public_id=fid).submission.public_id
    outsider = party(uploads=True)  # approved for uploads: its request reaches the lookup
    settings.DB_PREPARED_STATEMENTS = False
    unprepared = answers(client, fid, sid, outsider.client)
    assert lookups_prepared() == []
    settings.DB_PREPARED_STATEMENTS = True
    assert answers(client, fid, sid, outsider.client) == unprepared
    assert [status for status, _ in unprepared] == [200, 200, 200, 404, 404, 404]
    # Every request above that named this upload went through the lookup (the outsider's and
    # the two wrong routes find no row): one prepared copy, run six times.
    assert lookups_prepared() == [6]


def test_the_lookup_gives_the_upload_and_its_submission_as_the_orm_does(settings, provider):
    client, fid = start_upload(provider.secret)
    listing = client.get(f"/api/uploads/{fid}/parts").json()
    stored = FileUpload.objects.select_related("submission").get(public_id=fid)
    assert (listing["fileUploadId"], listing["fileSize"], listing["state"]) == (
        fid,
        stored.declared_size,
        "uploading",
    )
    assert listing["expiresAt"] == stored.expires_at.isoformat()
    # A deleted submission's upload is 410 from the prepared lookup as from the ORM.
    Submission.objects.filter(pk=stored.submission_id).update(status=Submission.Status.DELETED)
    for prepared in (False, True):
        settings.DB_PREPARED_STATEMENTS = prepared
        gone = client.get(f"/api/uploads/{fid}/parts/1")
        assert gone.status_code == 410, gone.json()
