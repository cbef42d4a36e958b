"""The entries' reference check (payouts migrations 0008 and 0009) on statements above its 1,000-entry
threshold, where the account check is planned for the statement: the same refusals as for a
small statement (tests/payouts/test_ledger_database.py), without one index probe per entry, and a
small statement after a large one still probes instead of scanning every account."""

import importlib

import pytest
from django.db import IntegrityError, connection, transaction

from payouts.models import Entry, LedgerAccount
from payouts.services import ledger_verify, platform_account, sale_post
from payouts.services.journal import payee_accounts_ensure
from tests.payouts.conftest import payees_seeded, set_shares
from tests.payouts.test_ledger_database import _raw_entry, _raw_transaction

Kind = LedgerAccount.Kind
MIGRATION = importlib.import_module("payouts.migrations.0009_split_entry_sums")
LARGE = MIGRATION.LARGE_STATEMENT
PAYEES = LARGE + 200


def test_the_threshold_is_the_one_the_trigger_uses():
    assert f"IF entry_count > {LARGE} THEN" in MIGRATION.FORWARD


@pytest.fixture
def ledger(db):
    """A platform account and PAYEES payees' pending accounts in usd."""
    payee_ids = payees_seeded(PAYEES, "large.example")
    with transaction.atomic():
        clearing = platform_account(kind=Kind.PAYMENT_CLEARING, currency="usd").id
        accounts = payee_accounts_ensure(
            kind=Kind.PAYEE_PENDING, currency="usd", payee_ids=payee_ids
        )
    return clearing, sorted(accounts.values())


def _raw_entries(cursor, tx_ids, account_ids, currency="usd"):
    """One INSERT statement: an entry of 1 on each account, cycling through tx_ids."""
    cursor.execute(
        """
        INSERT INTO payouts_entry (transaction_id, account_id, currency, amount)
        SELECT t.ids[1 + (a.n - 1) %% cardinality(t.ids)], a.id, %s, 1
        FROM unnest(%s::bigint[]) WITH ORDINALITY AS a(id, n), (SELECT %s::bigint[] AS ids) t
        """,
        [currency, account_ids, tx_ids],
    )
    assert cursor.rowcount == len(account_ids)


def _account_pkey_scans(cursor) -> tuple[int, int]:
    """(index scans of the account primary key, sequential scans of the account table) made so
    far in this database transaction."""
    cursor.execute(
        "SELECT pg_stat_get_xact_numscans('payouts_ledgeraccount_pkey'::regclass),"
        " pg_stat_get_xact_numscans('payouts_ledgeraccount'::regclass)"
    )
    return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_a_large_balanced_statement_commits_without_a_probe_per_entry(ledger):
    clearing, payees = ledger
    with transaction.atomic(), connection.cursor() as cursor:
        tx_id = _raw_transaction(cursor, "raw:large")
        index_scans, _ = _account_pkey_scans(cursor)
        _raw_entries(cursor, [tx_id], payees)
        after, _ = _account_pkey_scans(cursor)
        _raw_entry(cursor, tx_id, clearing, -len(payees))
    # One probe per entry (the plan of migration 0002) would be PAYEES index scans.
    assert after - index_scans < 10
    assert Entry.objects.filter(transaction_id=tx_id).count() == PAYEES + 1


@pytest.mark.django_db(transaction=True)
def test_a_large_statement_naming_an_unknown_account_is_refused(ledger):
    _, payees = ledger
    with (
        pytest.raises(IntegrityError, match="ledger account 1000000000000 does not exist"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_transaction(cursor, "raw:large-ghost")
        _raw_entries(cursor, [tx_id], [*payees[:700], 10**12, *payees[700:]])
    assert not Entry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_large_statement_in_another_currency_than_an_account_is_refused(ledger):
    _, payees = ledger
    with transaction.atomic():
        eur = platform_account(kind=Kind.PLATFORM_REVENUE, currency="eur").id
    with (
        pytest.raises(IntegrityError, match=f"entry in usd on ledger account {eur} kept in eur"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_transaction(cursor, "raw:large-currency")
        _raw_entries(cursor, [tx_id], sorted([*payees, eur]))
    # The whole statement in eur: every payee account is kept in usd.
    with (
        pytest.raises(IntegrityError, match="kept in usd"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_transaction(cursor, "raw:large-eur")
        _raw_entries(cursor, [tx_id], payees, currency="eur")
    assert not Entry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_large_statement_into_a_closed_or_unknown_transaction_is_refused(ledger):
    clearing, payees = ledger
    with transaction.atomic(), connection.cursor() as cursor:
        committed = _raw_transaction(cursor, "raw:committed")
        _raw_entry(cursor, committed, clearing, 1)
        _raw_entry(cursor, committed, payees[0], -1)
    for tx_ids in ([committed], [987654]):
        with (
            pytest.raises(IntegrityError, match=f"transaction {tx_ids[0]} is closed or does not"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            _raw_entries(cursor, tx_ids, payees[1:])
    # One statement over an open transaction and a closed one: the closed one is named.
    for accounts in (payees[1:], payees[1:3]):  # large, then small
        with (
            pytest.raises(IntegrityError, match=f"transaction {committed} is closed"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            open_tx = _raw_transaction(cursor, f"raw:open-{len(accounts)}")
            _raw_entries(cursor, [open_tx, committed], accounts)
    assert Entry.objects.filter(transaction_id=committed).count() == 2
    assert ledger_verify().problem.startswith("transaction #1 (raw:committed")


@pytest.mark.django_db(transaction=True)
def test_a_small_statement_after_a_large_one_probes_its_accounts(ledger):
    clearing, payees = ledger
    with transaction.atomic(), connection.cursor() as cursor:
        tx_id = _raw_transaction(cursor, "raw:large-then-small")
        _raw_entries(cursor, [tx_id], payees[2:])
        index_scans, seq_scans = _account_pkey_scans(cursor)
        _raw_entries(cursor, [tx_id], payees[:2])
        assert _account_pkey_scans(cursor) == (index_scans + 2, seq_scans)
        _raw_entry(cursor, tx_id, clearing, -len(payees))
    with (
        pytest.raises(IntegrityError, match="ledger account 1000000000000 does not exist"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_transaction(cursor, "raw:small-ghost")
        _raw_entries(cursor, [tx_id], [clearing, 10**12])


@pytest.mark.django_db(transaction=True)
def test_a_sale_over_more_payees_than_the_threshold_posts_through_the_large_check(version, seller):
    emails = [f"p{i}@large.example" for i in range(LARGE + 5)]
    table = set_shares(
        version,
        seller.owner,
        [(email, 1 + i % 7) for i, email in enumerate(emails)],
        basis="weight",
    )
    sale = sale_post(
        order_ref="o-large",
        dataset_version=version,
        gross_cents=100_001,
        platform_fee_cents=1,
        currency="usd",
        share_table=table,
    )
    entries = Entry.objects.filter(transaction=sale)
    assert entries.count() == len(emails) + 2  # clearing, revenue and the payees
    assert sum(entries.values_list("amount", flat=True)) == 0
    assert ledger_verify().ok
