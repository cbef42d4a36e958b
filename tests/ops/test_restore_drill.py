"""The restore drill on a real database with ledger entries: the dump restores into a scratch
database whose ledger verifies and ends at the source's head; a copy altered after the restore
is caught, whether the alteration breaks the chain or leaves a shorter chain that still
verifies; the scratch database is dropped."""

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from marketplace.observability import restore
from payouts.models import JournalTransaction
from tests.ops.test_metrics import TOKEN, paid_order, scrape, value


def drill_databases() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            [connection.settings_dict["NAME"] + "_drill_%"],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def ledger(transactional_db, provider, buyer):
    """A committed sale and its processor fee in the ledger (pg_dump sees committed rows)."""
    paid_order(provider, buyer)
    last = JournalTransaction.objects.order_by("-sequence").first()
    assert last is not None and last.sequence >= 2
    return last


def test_the_drill_restores_verifies_and_matches_the_head(ledger, capsys, settings):
    call_command("restore_drill")
    out = capsys.readouterr().out
    assert "restore drill OK" in out, out
    assert f"{ledger.sequence} transactions, head {ledger.hash}" in out
    assert f"verify_ledger on the copy: ledger OK: {ledger.sequence} transactions" in out
    assert drill_databases() == []  # the scratch database was dropped
    settings.METRICS_TOKEN = TOKEN
    assert value(scrape(), "dc_ledger_verification_ok") == 1


@pytest.fixture
def restored_copy(ledger, tmp_path):
    """The source's head and a restored copy of it (dropped at the end), to alter."""
    dump = tmp_path / "source.dump"
    source = restore.source_dump(dump)
    assert (source.transactions, source.head) == (ledger.sequence, ledger.hash)
    name = restore.scratch_name()
    restore.database_restore(dump, name)
    try:
        yield source, name
    finally:
        restore.database_drop(name)
    assert drill_databases() == []


def alter(name: str, *statements: str) -> None:
    """Run SQL in the copy as a superuser with triggers off (the append-only and chain triggers
    would refuse it): what an intruder or a broken backup could do."""
    params = connection.get_connection_params()
    params["dbname"] = name
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        for statement in statements:
            conn.execute(statement)


def test_an_untouched_copy_passes_the_comparison(restored_copy):
    source, name = restored_copy
    result = restore.copy_check(name=name, source=source)
    assert result.ok, str(result)


def test_an_altered_entry_in_the_copy_is_caught(restored_copy):
    source, name = restored_copy
    alter(
        name,
        "UPDATE payouts_entry SET amount = amount + 1 WHERE id = (SELECT max(id) FROM payouts_entry)",
    )
    result = restore.copy_check(name=name, source=source)
    assert not result.ok
    assert "does not verify" in result.problem and "MISMATCH" in result.problem
    assert "restore drill FAILED" in str(result)


def test_a_copy_missing_its_last_transaction_is_caught_though_it_verifies(restored_copy):
    source, name = restored_copy
    alter(
        name,
        "DELETE FROM payouts_entry WHERE transaction_id = "
        "(SELECT id FROM payouts_journaltransaction ORDER BY sequence DESC LIMIT 1)",
        "DELETE FROM payouts_journaltransaction WHERE sequence = "
        "(SELECT max(sequence) FROM payouts_journaltransaction)",
    )
    result = restore.copy_check(name=name, source=source)
    assert result.copy.ok, result.copy.output  # the shorter chain is consistent in itself
    assert not result.ok
    assert f"has {source.transactions - 1} transactions" in result.problem


def test_a_different_head_is_caught():
    """The comparison itself: same length, another head."""
    source = restore.ChainHead(3, "a" * 64)
    copy = restore.CopyVerification(True, "ledger OK", restore.ChainHead(3, "b" * 64))
    result = restore.drill_compare(source=source, copy=copy)
    assert not result.ok and "differs from the source" in result.problem
    same = restore.CopyVerification(True, "ledger OK", restore.ChainHead(3, "a" * 64))
    assert restore.drill_compare(source=source, copy=same).ok
