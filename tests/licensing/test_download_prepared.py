"""Prepared statements on the download hot path (E4/E6, marketplace.prepared.prepared_cursor): the
context query and the session INSERT are prepared once per connection and then only executed
(DB_PREPARED_STATEMENTS, on by default); with the setting off nothing is prepared (for poolers
that cannot carry prepared statements); the answer is the same either way. The context query is
also the connection's per-request health check, so a dead persistent connection is replaced
without a `SELECT 1` before every download."""

import psycopg
import pytest
from django.db import connection, transaction

from licensing.selectors import _DOWNLOAD_SQL, download_context
from licensing.services.downloads import _SESSION_INSERT
from tests.licensing.test_download_fast import download, paid_with_grant

# What PostgreSQL shows of each statement up to its first parameter ($1 there, %s here).
CONTEXT_PREFIX = _DOWNLOAD_SQL[: _DOWNLOAD_SQL.index("%(")].strip()
INSERT_PREFIX = _SESSION_INSERT[: _SESSION_INSERT.index("%s")].strip()


def prepared_executions() -> dict[str, list[int]]:
    """Per hot statement, the executions of each prepared copy of it on this connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        rows = cursor.fetchall()
    return {
        name: [n for statement, n in rows if statement.strip().startswith(prefix)]
        for name, prefix in (("context", CONTEXT_PREFIX), ("insert", INSERT_PREFIX))
    }


def body_without_session(response) -> bytes:
    assert response.status_code == 200, response.json()
    return response.content.replace(response.json()["sessionId"].encode(), b"<session>")


@pytest.mark.django_db
def test_the_context_query_and_the_session_insert_are_prepared_once(provider, buyer, settings):
    assert settings.DB_PREPARED_STATEMENTS  # the default
    dataset = paid_with_grant(provider, buyer, "Prepared")
    for _ in range(3):
        assert download(buyer, dataset).status_code == 200
    # One prepared copy of each, executed by every request: planned once per connection.
    assert prepared_executions() == {"context": [3], "insert": [3]}


@pytest.mark.django_db
def test_the_setting_off_prepares_nothing_and_answers_the_same(provider, buyer, settings):
    dataset = paid_with_grant(provider, buyer, "Not prepared")
    settings.DB_PREPARED_STATEMENTS = False
    unprepared = body_without_session(download(buyer, dataset))
    assert prepared_executions() == {"context": [], "insert": []}
    settings.DB_PREPARED_STATEMENTS = True
    assert body_without_session(download(buyer, dataset)) == unprepared
    assert prepared_executions() == {"context": [1], "insert": [1]}


@pytest.mark.django_db
def test_errors_and_scoping_are_the_same_when_prepared(provider, buyer, outsider, settings):
    """402 without a grant, 403 before the terms, 404 for a private dataset of another
    organisation: from the prepared statement as from the unprepared one."""
    paid = paid_with_grant(provider, buyer, "Errors prepared")
    private = paid_with_grant(provider, buyer, "Private prepared")
    private.visibility = "private"
    private.save(update_fields=["visibility"])
    answers = {}
    for prepared in (False, True):
        settings.DB_PREPARED_STATEMENTS = prepared
        answers[prepared] = [
            (r.status_code, r.json().get("error"))
            for r in (download(outsider, paid), download(buyer, private))
        ]
    assert answers[True] == answers[False]
    assert answers[True][0][0] == 403 and answers[True][1][0] == 404


@pytest.mark.django_db
def test_statements_dropped_on_the_server_are_prepared_again(provider, buyer):
    """psycopg forgets the connection's statements when a rollback or a DEALLOCATE goes through
    any cursor (it follows them because prepared_cursor gives the connection a threshold)."""
    dataset = paid_with_grant(provider, buyer, "Deallocated")
    assert download(buyer, dataset).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert download(buyer, dataset).status_code == 200
    try:
        with transaction.atomic():
            assert download(buyer, dataset).status_code == 200
            raise RuntimeError("roll back the savepoint")
    except RuntimeError:
        pass
    assert download(buyer, dataset).status_code == 200
    assert prepared_executions() == {"context": [1], "insert": [1]}


def libpq_trace(path, action):
    """The protocol messages this connection sends while `action` runs (libpq's own trace)."""
    pgconn = connection.connection.pgconn
    with open(path, "w") as out:
        pgconn.trace(out.fileno())
        try:
            result = action()
        finally:
            pgconn.untrace()
    return path.read_text(), result


@pytest.mark.django_db(transaction=True)
def test_the_context_query_is_the_requests_health_check(provider, buyer, tmp_path):
    dataset = paid_with_grant(provider, buyer, "Health check")
    connection.ensure_connection()
    assert connection.health_check_enabled
    connection.health_check_done = False  # what the start of a request does
    sent, (found, facts) = libpq_trace(
        tmp_path / "trace",
        lambda: download_context(id_or_slug=dataset.public_id, organization=buyer.org),
    )
    assert found.pk == dataset.pk and facts.grant_id is not None
    # Frontend messages only: the context statement, and no simple-protocol query (Django's
    # health check sends `SELECT 1` as one).
    frontend = [
        (fields[3], "\t".join(fields[4:]))
        for fields in (line.split("\t") for line in sent.splitlines())
        if len(fields) > 3 and fields[1] == "F"
    ]
    assert sorted(message for message, _ in frontend) == [
        "Bind",
        "Describe",
        "Execute",
        "Parse",
        "Sync",
        "Sync",
    ], frontend
    assert [arg for message, arg in frontend if message == "Parse"][0].startswith(' "_pg3_')
    assert connection.health_check_done


@pytest.mark.django_db(transaction=True)
def test_a_dead_connection_is_replaced_and_the_read_run_again(provider, buyer):
    dataset = paid_with_grant(provider, buyer, "Dead connection")
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = connection.settings_dict
    with psycopg.connect(
        host=params["HOST"],
        port=params["PORT"] or 5432,
        user=params["USER"],
        dbname=connection.connection.info.dbname,
        autocommit=True,
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
    connection.health_check_done = False  # the next request on the persistent connection
    found, facts = download_context(id_or_slug=dataset.public_id, organization=buyer.org)
    assert found.pk == dataset.pk and facts.grant_id is not None
    assert connection.connection.info.backend_pid != pid
