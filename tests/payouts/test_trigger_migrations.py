"""The ledger's trigger functions replaced by later migrations can be put back: each later
migration's BACKWARD is the earlier migration's function, word for word, and both directions
compile in PostgreSQL (a reverse migration that cannot run leaves a database stuck)."""

import importlib
import re

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

REPLACED = [
    # (migration replacing the function, migration that created it, function)
    ("0007_payout_line_leaner_insert", "0003_payout_runs", "payouts_payoutline_inserted"),
    ("0008_entry_check_sized_plan", "0002_ledger_enforcement", "payouts_entry_inserted"),
    ("0009_split_entry_sums", "0008_entry_check_sized_plan", "payouts_entry_inserted"),
    ("0009_split_entry_sums", "0002_ledger_enforcement", "payouts_journal_balanced"),
]


def migration(name: str):
    return importlib.import_module(f"payouts.migrations.{name}")


def function_sql(sql: str, name: str) -> str:
    """The CREATE [OR REPLACE] FUNCTION statement of `name` in `sql`, without the verb."""
    found = re.search(
        rf"CREATE (?:OR REPLACE )?(FUNCTION {name}\(\).*?\$\$.*?\$\$;)", sql, flags=re.DOTALL
    )
    assert found, f"{name} not in the SQL"
    return found.group(1)


@pytest.mark.parametrize(("later", "earlier", "function"), REPLACED)
def test_backward_restores_the_earlier_function_and_both_directions_compile(
    later, earlier, function
):
    backward = migration(later).BACKWARD
    assert function_sql(backward, function) == function_sql(migration(earlier).FORWARD, function)
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute(backward)
        cursor.execute(migration(later).FORWARD)
