"""Prepared statements for the hottest queries (the download session's context read and its
INSERT): PostgreSQL parses and plans such a statement once per connection instead of on every
request. `DB_PREPARED_STATEMENTS` turns them off (behind a transaction-pooling PgBouncer without
prepared-statement tracking)."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.backends.postgresql.base import ServerBindingCursor


class _PreparingCursor(ServerBindingCursor):
    """Server-side binding, and every statement prepared on its first execution: PostgreSQL
    parses and plans it once per connection (and, once its generic plan is chosen, never
    again), where a client-side-binding cursor sends a new literal query every time."""

    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


# psycopg prepares (and keeps track of prepared statements) only while a connection has a
# threshold; Django leaves it unset (no automatic preparing, for poolers). We set one that no
# statement ever reaches: only `_PreparingCursor` prepares (Django's own cursors bind client-side
# and never do), and psycopg forgets and deallocates the connection's statements after any
# rollback or DDL, as it does when it prepares by itself.
_PREPARE_NOTHING_AUTOMATICALLY = 2**62


@contextmanager
def prepared_cursor() -> Iterator:
    """A cursor of the default connection whose statements are prepared once per connection
    (DB_PREPARED_STATEMENTS; off: Django's ordinary cursor). Otherwise what `connection.cursor()`
    gives: the health check, the connection opened if needed, database errors wrapped, queries
    logged and execute wrappers run. Statements must use placeholders only (server-side binding:
    one parameter per value, never formatted into the SQL text)."""
    if not settings.DB_PREPARED_STATEMENTS:
        with connection.cursor() as cursor:
            yield cursor
        return
    # What BaseDatabaseWrapper._cursor() does, with our cursor class.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = connection.connection
        if raw.prepare_threshold is None:
            raw.prepare_threshold = _PREPARE_NOTHING_AUTOMATICALLY
        cursor = _PreparingCursor(raw)
    connection.validate_thread_sharing()
    wrapped = (
        connection.make_debug_cursor(cursor)
        if connection.queries_logged
        else connection.make_cursor(cursor)
    )
    with wrapped:
        yield wrapped


def read_row_prepared(sql: str, params: dict) -> tuple | None:
    """The first row of a read-only statement run with `prepared_cursor`. When it is the
    request's first use of a persistent connection, the statement itself is the connection's
    health check (CONN_HEALTH_CHECKS) instead of a `SELECT 1` round trip before it: if it fails
    because the connection is dead, the connection is replaced and the statement run again (a
    read, so running it twice changes nothing); any other error is raised as it was."""
    as_check = (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block
    )
    if as_check:
        connection.health_check_done = True
        try:
            with prepared_cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()
        except (OperationalError, InterfaceError):
            if connection.is_usable():
                raise
            connection.close()
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


@dataclass(frozen=True)
class RowReader:
    """Makes instances of `model` from the values of `fields` in a hand-written query's row, as
    the ORM makes them (`from_db`, each field's `from_db_value`). Built once per query shape."""

    model: type
    fields: tuple
    names: tuple
    converters: tuple

    @classmethod
    def of(cls, model, fields: Sequence | None = None) -> "RowReader":
        fields = tuple(model._meta.concrete_fields if fields is None else fields)
        return cls(
            model,
            fields,
            tuple(f.attname for f in fields),
            tuple(getattr(f, "from_db_value", None) for f in fields),
        )

    def columns(self, alias: str) -> list[str]:
        return [f'{alias}."{f.column}"' for f in self.fields]

    def instance(self, values: Sequence):
        converted = [
            value if convert is None else convert(value, None, connection)
            for convert, value in zip(self.converters, values, strict=True)
        ]
        return self.model.from_db(connection.alias, self.names, converted)
