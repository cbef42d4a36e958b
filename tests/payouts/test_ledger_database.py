"""PostgreSQL itself enforces the ledger: raw SQL, below our services, cannot unbalance it,
change or delete its rows, add entries to a committed transaction, or fork the chain."""

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from payouts.models import MICRO_PER_CENT, Entry, JournalTransaction, LedgerAccount
from payouts.services import currency_totals, ledger_verify, platform_account, sale_post
from payouts.services.journal import ledger_head
from tests.payouts.conftest import set_shares

Kind = LedgerAccount.Kind


def _raw_transaction(cursor, key: str) -> int:
    """A journal transaction row as raw SQL would write it (right place in the chain, a
    made-up hash)."""
    sequence, prev_hash = ledger_head()
    cursor.execute(
        """
        INSERT INTO payouts_journaltransaction
            (sequence, idempotency_key, kind, created_at, external_reference, prev_hash, hash)
        VALUES (%s, %s, 'sale', now(), '', %s, md5(%s) || md5(%s))
        RETURNING id
        """,
        [sequence + 1, key, prev_hash, key, key + "x"],
    )
    return cursor.fetchone()[0]


def _raw_entry(cursor, tx_id: int, account_id: int, amount: int, currency="usd"):
    cursor.execute(
        "INSERT INTO payouts_entry (transaction_id, account_id, currency, amount)"
        " VALUES (%s, %s, %s, %s)",
        [tx_id, account_id, currency, amount],
    )


@pytest.fixture
def accounts(db):
    with transaction.atomic():
        clearing = platform_account(kind=Kind.PAYMENT_CLEARING, currency="usd")
        revenue = platform_account(kind=Kind.PLATFORM_REVENUE, currency="usd")
    return clearing.id, revenue.id


@pytest.mark.django_db(transaction=True)
def test_unbalanced_transaction_fails_at_commit_not_before(accounts):
    clearing, revenue = accounts
    with (
        pytest.raises(IntegrityError, match="unbalanced ledger transaction"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_transaction(cursor, "raw:unbalanced")
        _raw_entry(cursor, tx_id, clearing, 100)
        _raw_entry(cursor, tx_id, revenue, -99)
        # Deferred: inside the transaction nothing has complained yet.
        cursor.execute("SELECT count(*) FROM payouts_entry WHERE transaction_id = %s", [tx_id])
        assert cursor.fetchone()[0] == 2
    assert not JournalTransaction.objects.filter(idempotency_key="raw:unbalanced").exists()
    assert not Entry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_unbalanced_per_currency_fails_even_if_the_grand_total_is_zero(accounts):
    clearing, _ = accounts
    with transaction.atomic():
        eur = platform_account(kind=Kind.PLATFORM_REVENUE, currency="eur").id
    with (
        pytest.raises(IntegrityError, match="unbalanced"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_transaction(cursor, "raw:two-currencies")
        _raw_entry(cursor, tx_id, clearing, 100, "usd")
        _raw_entry(cursor, tx_id, eur, -100, "eur")
    assert not Entry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_balanced_raw_transaction_commits_but_verify_ledger_reports_its_hash(accounts):
    clearing, revenue = accounts
    with transaction.atomic(), connection.cursor() as cursor:
        tx_id = _raw_transaction(cursor, "raw:balanced")
        _raw_entry(cursor, tx_id, clearing, 100)
        _raw_entry(cursor, tx_id, revenue, -100)
    assert currency_totals() == {"usd": 0}
    result = ledger_verify()
    assert not result.ok
    assert "transaction #1 (raw:balanced" in result.problem and "hash" in result.problem


@pytest.mark.django_db(transaction=True)
def test_entries_cannot_be_added_to_a_committed_transaction(version, seller):
    set_shares(version, seller.owner, [("org", "100")])
    sale = sale_post(
        order_ref="o1",
        dataset_version=version,
        gross_cents=100,
        platform_fee_cents=0,
        currency="usd",
    )
    with transaction.atomic():
        fees = platform_account(kind=Kind.PROCESSOR_FEES, currency="usd")
        revenue = platform_account(kind=Kind.PLATFORM_REVENUE, currency="usd")
    assert not Entry.objects.filter(account_id__in=[fees.id, revenue.id]).exists()
    with (
        pytest.raises(IntegrityError, match="closed"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # Balanced, and still refused: a committed transaction is closed.
        _raw_entry(cursor, sale.pk, fees.id, 5)
        _raw_entry(cursor, sale.pk, revenue.id, -5)
    # A transaction id that does not exist is refused the same way.
    with (
        pytest.raises(IntegrityError, match="closed or does not exist"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        _raw_entry(cursor, 987654, fees.id, 5)
    assert ledger_verify().ok


@pytest.mark.django_db(transaction=True)
def test_entry_must_name_an_existing_account_in_its_currency(accounts):
    clearing, revenue = accounts
    with (
        pytest.raises(IntegrityError, match="does not exist"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_transaction(cursor, "raw:ghost")
        _raw_entry(cursor, tx_id, 10**12, 100)
        _raw_entry(cursor, tx_id, revenue, -100)
    with (
        pytest.raises(IntegrityError, match="kept in usd"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_transaction(cursor, "raw:currency")
        _raw_entry(cursor, tx_id, clearing, 100, "eur")
        _raw_entry(cursor, tx_id, revenue, -100, "eur")


@pytest.mark.django_db(transaction=True)
def test_the_chain_cannot_fork_or_skip(accounts):
    clearing, revenue = accounts
    with transaction.atomic(), connection.cursor() as cursor:
        tx_id = _raw_transaction(cursor, "raw:first")
        _raw_entry(cursor, tx_id, clearing, 1)
        _raw_entry(cursor, tx_id, revenue, -1)
    head_sequence, head_hash = ledger_head()
    for sequence, prev_hash in [
        (head_sequence, head_hash),  # a second #1: fork
        (head_sequence + 2, head_hash),  # a gap
        (head_sequence + 1, "f" * 64),  # not linked to the head
    ]:
        with (
            pytest.raises(IntegrityError, match="ledger chain"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                """
                INSERT INTO payouts_journaltransaction
                    (sequence, idempotency_key, kind, created_at, external_reference, prev_hash,
                     hash)
                VALUES (%s, %s, 'sale', now(), '', %s, repeat('a', 64))
                """,
                [sequence, f"raw:fork{sequence}{prev_hash[0]}", prev_hash],
            )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE payouts_entry SET amount = amount + 1",
        "DELETE FROM payouts_entry",
        "UPDATE payouts_journaltransaction SET external_reference = 'x'",
        "DELETE FROM payouts_journaltransaction",
        "UPDATE payouts_ledgeraccount SET currency = 'eur'",
        "DELETE FROM payouts_ledgeraccount",
        # Refused even when no row matches: the statement itself is not allowed.
        "DELETE FROM payouts_entry WHERE false",
    ],
)
def test_raw_update_and_delete_of_ledger_rows_are_refused(version, seller, sql):
    set_shares(version, seller.owner, [("org", "80"), ("e@example.com", "20")])
    sale_post(
        order_ref="o-imm",
        dataset_version=version,
        gross_cents=100,
        platform_fee_cents=5,
        currency="usd",
    )
    before = list(Entry.objects.values_list("pk", "amount"))
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert list(Entry.objects.values_list("pk", "amount")) == before


@pytest.mark.django_db
def test_orm_writes_are_refused_too(version, seller):
    set_shares(version, seller.owner, [("org", "100")])
    sale = sale_post(
        order_ref="o-orm",
        dataset_version=version,
        gross_cents=100,
        platform_fee_cents=0,
        currency="usd",
    )
    sale.external_reference = "changed"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        sale.save()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Entry.objects.filter(transaction=sale).update(amount=1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Entry.objects.filter(transaction=sale).delete()


def _tamper(sql: str, params: list):
    """What only a superuser can do: bypass the triggers for one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


@pytest.mark.django_db(transaction=True)
def test_verify_ledger_reports_ok_then_the_first_tampered_transaction(version, seller, capsys):
    table = set_shares(version, seller.owner, [("org", "50"), ("f@example.com", "50")])
    for n in range(3):
        sale_post(
            order_ref=f"o-v{n}",
            dataset_version=version,
            gross_cents=1000 + n,
            platform_fee_cents=50,
            currency="usd",
            share_table=table,
        )
    call_command("verify_ledger")
    out = capsys.readouterr().out
    head = JournalTransaction.objects.order_by("-sequence").first()
    assert out.strip() == f"ledger OK: 3 transactions, head {head.hash}"

    # Move one micro-unit between the two payees of sale #2: still balanced, totals unchanged,
    # only the hash chain can tell.
    second = JournalTransaction.objects.get(sequence=2)
    payee_entries = list(
        Entry.objects.filter(transaction=second, account__payee__isnull=False).order_by("pk")
    )
    _tamper("UPDATE payouts_entry SET amount = amount + 1 WHERE id = %s", [payee_entries[0].pk])
    _tamper("UPDATE payouts_entry SET amount = amount - 1 WHERE id = %s", [payee_entries[1].pk])
    assert currency_totals() == {"usd": 0}
    with pytest.raises(CommandError, match=r"transaction #2 \(sale:o-v1.*hash"):
        call_command("verify_ledger")


@pytest.mark.django_db(transaction=True)
def test_verify_ledger_reports_an_unbalanced_or_relinked_transaction(version, seller):
    set_shares(version, seller.owner, [("org", "100")])
    for n in range(2):
        sale_post(
            order_ref=f"o-u{n}",
            dataset_version=version,
            gross_cents=300,
            platform_fee_cents=0,
            currency="usd",
        )
    first = JournalTransaction.objects.get(sequence=1)
    clearing = Entry.objects.get(transaction=first, account__kind=Kind.PAYMENT_CLEARING)
    _tamper(
        "UPDATE payouts_entry SET amount = amount + %s WHERE id = %s", [MICRO_PER_CENT, clearing.pk]
    )
    result = ledger_verify()
    assert not result.ok and "#1" in result.problem and "do not sum to zero" in result.problem
    _tamper(
        "UPDATE payouts_entry SET amount = amount - %s WHERE id = %s", [MICRO_PER_CENT, clearing.pk]
    )
    assert ledger_verify().ok
    _tamper(
        "UPDATE payouts_journaltransaction SET prev_hash = repeat('0', 64) WHERE sequence = 2", []
    )
    result = ledger_verify()
    assert not result.ok and "#2" in result.problem and "prev_hash" in result.problem


@pytest.mark.django_db(transaction=True)
def test_verify_ledger_reports_a_deleted_transaction(version, seller):
    set_shares(version, seller.owner, [("org", "100")])
    for n in range(3):
        sale_post(
            order_ref=f"o-d{n}",
            dataset_version=version,
            gross_cents=300,
            platform_fee_cents=0,
            currency="usd",
        )
    middle = JournalTransaction.objects.get(sequence=2)
    _tamper("DELETE FROM payouts_journaltransaction WHERE id = %s", [middle.pk])
    result = ledger_verify()
    assert not result.ok and "without a transaction" in result.problem
    _tamper("DELETE FROM payouts_entry WHERE transaction_id = %s", [middle.pk])
    result = ledger_verify()
    assert not result.ok and "#3" in result.problem and "expected sequence 2" in result.problem


@pytest.mark.django_db(transaction=True)
def test_verify_ledger_reports_an_account_reassigned_behind_its_back(version, seller):
    """The hash binds each entry to its account's kind and payee: turning a payee's pending
    account into an available one (money payable at once) is caught."""
    table = set_shares(version, seller.owner, [("org", "50"), ("g@example.com", "50")])
    sale_post(
        order_ref="o-acct",
        dataset_version=version,
        gross_cents=500,
        platform_fee_cents=0,
        currency="usd",
        share_table=table,
    )
    assert ledger_verify().ok
    account = LedgerAccount.objects.filter(kind=Kind.PAYEE_PENDING).first()
    _tamper("UPDATE payouts_ledgeraccount SET kind = 'payee_available' WHERE id = %s", [account.pk])
    result = ledger_verify()
    assert not result.ok and "#1" in result.problem and "hash" in result.problem
