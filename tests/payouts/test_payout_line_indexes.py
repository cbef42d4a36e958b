"""The payout-line table stays lean for a run's one-statement insert of 100,000 lines (migration
0007): one unique index both keeps a payee out of two unfinished lines of a currency and finds a
payee's lines, and the insert trigger checks each run once and names the offending line."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from payouts.models import PayoutLine
from payouts.selectors import payout_lines_of_payees
from payouts.services.runs import payout_run_create
from tests.payouts.conftest import payee_of, set_shares
from tests.payouts.test_payout_runs import enable_payouts, sell_and_release

INSERT = (
    "INSERT INTO payouts_payoutline (id, run_id, payee_id, currency, amount_cents, status,"
    " destination, idempotency_key, transfer_id, attempts, failure_code, failure_message,"
    " created_at) VALUES {values}"
)
ROW = "(%s, %s, %s, %s, 1, %s, 'acct_x', %s, '', 0, '', '', now())"


def insert_lines(rows: list[tuple[int, int, int, str, str]]) -> None:
    """rows: (id, run id, payee id, currency, status), in one statement."""
    params = []
    for line_id, run_id, payee_id, currency, status in rows:
        params += [line_id, run_id, payee_id, currency, status, str(line_id)]
    with connection.cursor() as cursor:
        cursor.execute(INSERT.format(values=", ".join([ROW] * len(rows))), params)


@pytest.fixture
def payees(version, seller, settings):
    """The organisation and a contributor, half each, both with payouts enabled."""
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 100, "eur": 100}
    table = set_shares(version, seller.owner, [("org", 1), ("a@example.com", 1)], basis="weight")
    payees = [payee_of(table, who) for who in ("org", "a@example.com")]
    for payee in payees:
        enable_payouts(payee)
    return payees


def plan(sql: str, params) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_a_run_fills_three_indexes_and_one_serves_a_payees_lines():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, i.indpred IS NOT NULL
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = 'payouts_payoutline'::regclass
            """
        )
        indexes = dict(cursor.fetchall())
    # A new line has no transfer: the partial transfer index takes none of a run's lines.
    assert {name for name, partial in indexes.items() if not partial} == {
        "payouts_payoutline_pkey",
        "payout_line_run_status",
        "uniq_payout_line_payee_open",
    }
    assert {name for name, partial in indexes.items() if partial} == {"payout_line_transfer"}

    # A payee's lines (API, money pages) are read through the unique index.
    lines = payout_lines_of_payees(payee_ids=[1, 2])
    assert "uniq_payout_line_payee_open" in plan(*lines.query.sql_with_params())


@pytest.mark.django_db
def test_one_unfinished_line_per_payee_and_currency_any_number_finished(version, payees):
    sell_and_release(version, refs=["ix1"])
    run = payout_run_create(currency="usd")
    line = run.lines.first()
    assert line.status == "pending"
    payee = line.payee_id

    for status in ("pending", "sending"):  # (sent needs a transfer id)
        with (
            pytest.raises(IntegrityError, match="uniq_payout_line_payee_open"),
            transaction.atomic(),
        ):
            insert_lines([(10**9, run.pk, payee, "usd", status)])

    # Finished lines (paid needs a transfer: failed ones here) and other currencies are free.
    insert_lines(
        [
            (10**9, run.pk, payee, "usd", "failed"),
            (10**9 + 1, run.pk, payee, "usd", "failed"),
            (10**9 + 2, run.pk, payee, "eur", "pending"),
        ]
    )
    assert PayoutLine.objects.filter(payee_id=payee).count() == 4
    # Once the line is finished, the payee may have a new unfinished one.
    PayoutLine.objects.filter(pk=line.pk).update(status="failed")
    insert_lines([(10**9 + 3, run.pk, payee, "usd", "pending")])


@pytest.mark.django_db
def test_the_insert_trigger_checks_every_run_and_payee_of_a_statement(version, payees):
    first = payout_run_create(currency="usd")  # nothing owed: runs without lines
    second = payout_run_create(currency="usd")
    payee = payees[0].pk
    ok = [
        (10**9 + n, run.pk, payee, "usd", "failed")
        for n, run in enumerate([first, second, first, second])
    ]
    with transaction.atomic():
        insert_lines(ok)
        transaction.set_rollback(True)

    cases = [
        ((2 * 10**9, 10**9, payee, "usd", "failed"), "payout run 1000000000 does not exist"),
        ((2 * 10**9, second.pk, 10**9, "usd", "failed"), "payee 1000000000 does not exist"),
    ]
    for bad, message in cases:
        with (
            pytest.raises(DatabaseError, match=f"payout line {2 * 10**9}: {message}"),
            transaction.atomic(),
        ):
            insert_lines([*ok[:2], bad, *ok[2:]])
    assert not PayoutLine.objects.filter(pk__gte=10**9).exists()


@pytest.mark.django_db
def test_a_runs_line_ids_are_one_block_after_the_previous_runs(version, payees):
    sell_and_release(version, refs=["ids1"])
    sell_and_release(version, refs=["ids2"], currency="eur")
    usd = payout_run_create(currency="usd")
    eur = payout_run_create(currency="eur")
    usd_ids = sorted(usd.lines.values_list("pk", flat=True))
    eur_ids = sorted(eur.lines.values_list("pk", flat=True))
    assert len(usd_ids) == len(eur_ids) == 2
    # Contiguous per run, increasing from run to run, and the sequence goes on after the block.
    assert usd_ids == list(range(usd_ids[0], usd_ids[0] + 2))
    assert eur_ids == list(range(eur_ids[0], eur_ids[0] + 2))
    assert usd_ids[-1] < eur_ids[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('payouts_payoutline', 'id'))")
        assert cursor.fetchone()[0] == eur_ids[-1] + 1
    assert all(line.idempotency_key == str(line.pk) for line in PayoutLine.objects.all())


@pytest.mark.django_db
def test_the_insert_trigger_checks_a_large_statement_too(version, payees):
    run = payout_run_create(currency="usd")  # nothing owed: a run without lines
    payee = payees[0].pk
    # Finished lines (status failed) of one payee: as many as the unique index allows.
    ok = [(10**9 + n, run.pk, payee, "usd", "failed") for n in range(1500)]
    with transaction.atomic():
        insert_lines(ok)
        assert PayoutLine.objects.filter(run=run).count() == 1500
        transaction.set_rollback(True)

    bad_id = 2 * 10**9
    cases = [
        ((bad_id, 10**9, payee, "usd", "failed"), "payout run 1000000000 does not exist"),
        ((bad_id, run.pk, 10**9, "usd", "failed"), "payee 1000000000 does not exist"),
    ]
    for bad, message in cases:
        with (
            pytest.raises(DatabaseError, match=f"payout line {bad_id}: {message}"),
            transaction.atomic(),
        ):
            insert_lines([*ok[:700], bad, *ok[700:]])
    assert not PayoutLine.objects.filter(run=run).exists()
