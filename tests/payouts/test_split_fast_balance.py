"""The balance check at commit (payouts migration 0009) takes each journal transaction's totals
from the entries' statement trigger instead of re-reading its entries: the same refusals as
before, for entries written in one statement or several, in one currency or several, and
entries of a rolled-back savepoint are taken out of the totals with the entries."""

import pytest
from django.db import IntegrityError, connection, transaction

from payouts.models import Entry, JournalTransaction, LedgerAccount
from payouts.services import platform_account
from payouts.services.journal import payee_accounts_ensure
from tests.payouts.conftest import payees_seeded
from tests.payouts.test_ledger_database import _raw_entry, _raw_transaction

Kind = LedgerAccount.Kind
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def accounts(db):
    """Three usd platform accounts and one eur account."""
    with transaction.atomic():
        usd = [
            platform_account(kind=kind, currency="usd").id
            for kind in (Kind.PAYMENT_CLEARING, Kind.PLATFORM_REVENUE, Kind.PROCESSOR_FEES)
        ]
        eur = [
            platform_account(kind=kind, currency="eur").id
            for kind in (Kind.PAYMENT_CLEARING, Kind.PLATFORM_REVENUE)
        ]
    return usd, eur


def _entries(cursor, tx_id, rows):
    """One INSERT statement of (account id, currency, amount) rows into tx_id."""
    accounts, currencies, amounts = zip(*rows, strict=True)
    cursor.execute(
        """
        INSERT INTO payouts_entry (transaction_id, account_id, currency, amount)
        SELECT %s, a, c, m FROM unnest(%s::bigint[], %s::text[], %s::bigint[]) AS r(a, c, m)
        """,
        [tx_id, list(accounts), list(currencies), list(amounts)],
    )


def _entry_index_scans(cursor) -> int:
    cursor.execute("SELECT pg_stat_get_xact_numscans('uniq_entry_transaction_account'::regclass)")
    return cursor.fetchone()[0]


def test_the_check_at_commit_does_not_read_the_entries_again(accounts):
    (clearing, revenue, fees), _ = accounts
    with transaction.atomic(), connection.cursor() as cursor:
        tx_id = _raw_transaction(cursor, "raw:no-reread")
        _entries(cursor, tx_id, [(clearing, "usd", 100), (revenue, "usd", -60)])
        _entries(cursor, tx_id, [(fees, "usd", -40)])
        scans = _entry_index_scans(cursor)
        cursor.execute("SELECT pg_stat_get_xact_numscans('payouts_entry'::regclass)")
        table_scans = cursor.fetchone()[0]
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the check at commit, now
        assert _entry_index_scans(cursor) == scans
        cursor.execute("SELECT pg_stat_get_xact_numscans('payouts_entry'::regclass)")
        assert cursor.fetchone()[0] == table_scans
    assert Entry.objects.filter(transaction_id=tx_id).count() == 3


@pytest.mark.parametrize(
    ("statements", "error"),
    [
        ([[(0, "usd", 100), (1, "usd", -100)]], None),
        ([[(0, "usd", 100)], [(1, "usd", -60)], [(2, "usd", -40)]], None),
        ([[(0, "usd", 100)], [(1, "usd", -60)]], "sum to 40 in usd"),
        ([[(0, "usd", 100), (1, "usd", -99)]], "sum to 1 in usd"),
        ([[(0, "usd", 5)], [(3, "eur", -5)]], "unbalanced"),
        ([[(0, "usd", 5), (3, "eur", 5), (1, "usd", -5), (4, "eur", -5)]], None),
        ([[(0, "usd", 5), (3, "eur", 5), (1, "usd", -5), (4, "eur", -4)]], "sum to 1 in eur"),
        ([[(0, "usd", 5)], [(3, "eur", 7)], [(1, "usd", -5)], [(4, "eur", -7)]], None),
        ([[(0, "usd", 5)], [(3, "eur", 7)], [(1, "usd", -5)], [(4, "eur", -6)]], "1 in eur"),
    ],
    ids=[
        "one statement",
        "three statements",
        "three statements, one missing",
        "one statement, off by one",
        "two currencies in two statements",
        "two currencies in one statement",
        "two currencies in one statement, one off",
        "two currencies in four statements",
        "two currencies in four statements, one off",
    ],
)
def test_balanced_per_currency_however_the_entries_were_written(accounts, statements, error):
    usd, eur = accounts
    ids = [*usd, *eur]
    key = f"raw:statements:{len(statements)}:{error}"
    if error:
        with (
            pytest.raises(IntegrityError, match=error),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            tx_id = _raw_transaction(cursor, key)
            for rows in statements:
                _entries(cursor, tx_id, [(ids[a], c, m) for a, c, m in rows])
        assert not JournalTransaction.objects.filter(idempotency_key=key).exists()
    else:
        with transaction.atomic(), connection.cursor() as cursor:
            tx_id = _raw_transaction(cursor, key)
            for rows in statements:
                _entries(cursor, tx_id, [(ids[a], c, m) for a, c, m in rows])
        assert Entry.objects.filter(transaction_id=tx_id).count() == sum(map(len, statements))


def test_two_transactions_in_one_database_transaction_are_checked_each(accounts):
    (clearing, revenue, fees), _ = accounts
    with (
        pytest.raises(IntegrityError, match=r"raw:second\): its entries sum to 3 in usd"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        first = _raw_transaction(cursor, "raw:first")
        _entries(cursor, first, [(clearing, "usd", 10), (revenue, "usd", -10)])
        second = _raw_transaction(cursor, "raw:second")
        _entries(cursor, second, [(clearing, "usd", 10), (fees, "usd", -7)])
    assert not JournalTransaction.objects.filter(idempotency_key="raw:first").exists()


def test_entries_of_a_rolled_back_savepoint_leave_the_totals(accounts):
    (clearing, revenue, fees), _ = accounts
    with transaction.atomic(), connection.cursor() as cursor:
        tx_id = _raw_transaction(cursor, "raw:savepoint")
        _entries(cursor, tx_id, [(clearing, "usd", 10), (revenue, "usd", -10)])
        with pytest.raises(RuntimeError), transaction.atomic():
            _raw_entry(cursor, tx_id, fees, 5)
            raise RuntimeError("rolled back")
    assert Entry.objects.filter(transaction_id=tx_id).count() == 2


def test_entries_of_a_released_savepoint_count(accounts):
    (clearing, revenue, fees), _ = accounts
    with (
        pytest.raises(IntegrityError, match="sum to 5 in usd"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_transaction(cursor, "raw:released")
        _entries(cursor, tx_id, [(clearing, "usd", 10), (revenue, "usd", -10)])
        with transaction.atomic():
            _raw_entry(cursor, tx_id, fees, 5)


def test_a_transaction_without_entries_commits(accounts):
    with transaction.atomic(), connection.cursor() as cursor:
        tx_id = _raw_transaction(cursor, "raw:empty")
    assert JournalTransaction.objects.filter(pk=tx_id).exists()


LARGE = 1_100  # payees: above the trigger's 1,000-entry threshold for a large statement


@pytest.fixture
def large_ledger(accounts):
    """LARGE payees with a pending account in usd and one in eur."""
    payee_ids = payees_seeded(LARGE, "sums.example")
    with transaction.atomic():
        usd = payee_accounts_ensure(kind=Kind.PAYEE_PENDING, currency="usd", payee_ids=payee_ids)
        eur = payee_accounts_ensure(kind=Kind.PAYEE_PENDING, currency="eur", payee_ids=payee_ids)
    return accounts, sorted(usd.values()), sorted(eur.values())


@pytest.mark.parametrize(
    ("eur_clearing", "error"),
    [(-LARGE, None), (-LARGE + 1, "sum to 1 in eur")],
    ids=["balanced", "one off in eur"],
)
def test_a_large_statement_in_two_currencies_is_balanced_per_currency(
    large_ledger, eur_clearing, error
):
    ((clearing_usd, _, _), (clearing_eur, _)), usd, eur = large_ledger
    rows = [(a, "usd", 1) for a in usd] + [(a, "eur", 1) for a in eur]
    rows += [(clearing_usd, "usd", -LARGE), (clearing_eur, "eur", eur_clearing)]
    key = f"raw:large-two-currencies:{error}"

    def post():
        with transaction.atomic(), connection.cursor() as cursor:
            tx_id = _raw_transaction(cursor, key)
            _entries(cursor, tx_id, rows)
        return tx_id

    if error:
        with pytest.raises(IntegrityError, match=error):
            post()
        assert not JournalTransaction.objects.filter(idempotency_key=key).exists()
    else:
        assert Entry.objects.filter(transaction_id=post()).count() == len(rows)


def test_large_statements_add_up_across_statements(large_ledger):
    ((clearing, _, _), _), usd, _ = large_ledger
    with (
        pytest.raises(IntegrityError, match=f"sum to {LARGE - 3} in usd"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_transaction(cursor, "raw:large-twice")
        _entries(cursor, tx_id, [(a, "usd", 2) for a in usd])
        _entries(cursor, tx_id, [(clearing, "usd", -LARGE - 3)])
