"""Payout runs against the Stripe emulator: whole cents with the remainder carried forward, the
threshold, refused transfers reversed, Stripe down, a crash between the Stripe call and our
commit, and three executions of one run in separate processes. After each step the books
balance, the chain verifies and the money in transit is exactly what unfinished lines hold."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import stripe
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from contributors.models import Payee, PayoutAccount
from contributors.services.payout_accounts import payout_account_ensure, payout_account_refresh
from devtools.processes import free_port
from marketplace.services.errors import Invalid
from payouts.models import MICRO_PER_CENT, JournalTransaction, LedgerAccount, PayoutLine, PayoutRun
from payouts.services import (
    currency_totals,
    holds_release,
    ledger_verify,
    payee_balances,
    platform_balances,
    refund_post,
    refund_window,
    sale_post,
)
from payouts.services.runs import (
    _line_claim,
    _transfer_send,
    payout_run_create,
    payout_run_execute,
)
from tests.payouts.conftest import payee_of, set_shares

M = MICRO_PER_CENT
ROOT = Path(__file__).resolve().parents[2]
Kind = LedgerAccount.Kind


# --- helpers (also used by the API and reconciliation tests) ---------------------------------------


def emulator():
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE}
    )


def enable_payouts(payee: Payee, *, fail_transfers: bool = False) -> PayoutAccount:
    """A connected account for the payee, onboarded in the emulator and enabled by a refresh
    (what the account.updated webhook does)."""
    account, _ = payout_account_ensure(payee=payee, actor=None)
    url = f"{settings.STRIPE_API_BASE}/_emulator/accounts/{account.stripe_account_id}"
    requests.post(f"{url}/complete_onboarding", timeout=10).raise_for_status()
    fail_transfers_set(account, fail_transfers)
    account = payout_account_refresh(stripe_account_id=account.stripe_account_id)
    assert account.payouts_enabled
    return account


def fail_transfers_set(account: PayoutAccount, value: bool) -> None:
    emulator().accounts.update(
        account.stripe_account_id,
        params={"metadata": {"emulator_fail_transfers": "true" if value else "false"}},
    )


def sell_and_release(version, *, refs, gross_cents=1000, fee_cents=0, currency="usd"):
    """Sales, then their hold release (the refund window passed)."""
    sales = [
        sale_post(
            order_ref=ref,
            dataset_version=version,
            gross_cents=gross_cents,
            platform_fee_cents=fee_cents,
            currency=currency,
            external_reference=f"pi_{ref}",
        )
        for ref in refs
    ]
    holds_release(now=timezone.now() + refund_window() + timedelta(seconds=1))
    return sales


def transfers_of(run: PayoutRun) -> list:
    listing = emulator().transfers.list(params={"transfer_group": run.transfer_group, "limit": 100})
    return list(listing.auto_paging_iter())


def available(payee: Payee, currency="usd") -> int:
    balance = payee_balances(payee_id=payee.pk).get(currency)
    return balance.available if balance else 0


def assert_books_ok(currency="usd"):
    assert all(total == 0 for total in currency_totals().values())
    result = ledger_verify()
    assert result.ok, result.problem
    in_transit = platform_balances(currency=currency).get(Kind.PAYOUT_IN_TRANSIT, 0)
    unfinished = sum(
        PayoutLine.objects.filter(currency=currency, status__in=["pending", "sending"]).values_list(
            "amount_cents", flat=True
        )
    )
    assert in_transit == unfinished * M


@pytest.fixture
def three_way(version, seller, settings):
    """Org 1/3, two contributors 1/3 each (weights), every payee with payouts enabled."""
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 100, "eur": 100}
    table = set_shares(
        version,
        seller.owner,
        [("org", 1), ("a@example.com", 1), ("b@example.com", 1)],
        basis="weight",
    )
    payees = [payee_of(table, who) for who in ("org", "a@example.com", "b@example.com")]
    accounts = [enable_payouts(p) for p in payees]
    return payees, accounts


# --- creating and paying a run --------------------------------------------------------------------


@pytest.mark.django_db
def test_run_settles_whole_cents_and_carries_the_remainder(version, three_way):
    payees, accounts = three_way
    # 1000 cents over three equal weights: 333.3334 + 333.3333 + 333.3333 cents.
    sell_and_release(version, refs=["rc1"])
    before = {p.pk: available(p) for p in payees}
    assert sum(before.values()) == 1000 * M

    run = payout_run_create(currency="usd")
    lines = list(run.lines.order_by("payee_id"))
    assert [(line.payee_id, line.amount_cents) for line in lines] == sorted(
        (p.pk, before[p.pk] // M) for p in payees
    )
    assert all(line.idempotency_key == str(line.pk) for line in lines)
    assert all(line.status == "pending" for line in lines)
    # Reserved with the lines: only the sub-cent remainders stay available.
    assert {p.pk: available(p) for p in payees} == {p.pk: before[p.pk] % M for p in payees}
    assert run.reserve_transaction.idempotency_key == f"payout-run:{run.pk}"
    assert_books_ok()

    result = payout_run_execute(run=run)
    assert (result.sent, result.failed, result.paid, result.stripe_unavailable) == (3, 0, 3, False)
    transfers = transfers_of(run)
    by_destination = {t.destination: t.amount for t in transfers}
    assert by_destination == {a.stripe_account_id: before[a.payee_id] // M for a in accounts}
    run.refresh_from_db()
    assert run.status == "completed"
    for line in run.lines.all():
        assert line.status == "paid"
        assert line.payout_transaction.external_reference == line.transfer_id
        assert line.payout_transaction.idempotency_key == f"payout-line:{line.pk}"
    assert_books_ok()
    # What is still at Stripe is exactly the payees' carried remainders.
    remainders = sum(available(p) for p in payees)
    assert 0 < remainders < len(payees) * M
    assert platform_balances(currency="usd")[Kind.PAYMENT_CLEARING] == remainders

    # The remainders are carried: the next sale's shares add to them.
    sell_and_release(version, refs=["rc2"])
    carried = {p.pk: available(p) for p in payees}
    second = payout_run_create(currency="usd")
    assert {line.payee_id: line.amount_cents for line in second.lines.all()} == {
        p: amount // M for p, amount in carried.items()
    }
    payout_run_execute(run=second)
    total_paid = sum(
        PayoutLine.objects.filter(status="paid").values_list("amount_cents", flat=True)
    )
    # Two sales of 1000 cents: everything but less than one cent per payee has been paid.
    assert 2000 - len(payees) < total_paid <= 2000
    assert_books_ok()


@pytest.mark.django_db
def test_threshold_enabled_accounts_and_no_payee_in_two_unfinished_lines(version, seller, settings):
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 500}
    table = set_shares(
        version,
        seller.owner,
        [("org", "60"), ("a@example.com", "30"), ("b@example.com", "10")],
    )
    org, a, b = (payee_of(table, w) for w in ("org", "a@example.com", "b@example.com"))
    enable_payouts(org)
    enable_payouts(b)
    payout_account_ensure(payee=a, actor=None)  # not onboarded: payouts not enabled
    sell_and_release(version, refs=["t1"])  # org 600, a 300, b 100 cents

    run = payout_run_create(currency="usd")
    assert {line.payee_id: line.amount_cents for line in run.lines.all()} == {org.pk: 600}
    assert available(a) == 300 * M and available(b) == 100 * M

    sell_and_release(version, refs=["t2"])  # org another 600: but it has an unfinished line
    again = payout_run_create(currency="usd")
    assert again.line_count == 0 and again.status == "completed"
    assert available(org) == 600 * M

    # Exactly at the threshold counts; below it does not.
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 200}
    payout_run_execute(run=run)
    third = payout_run_create(currency="usd")
    assert {line.payee_id: line.amount_cents for line in third.lines.all()} == {
        org.pk: 600,
        b.pk: 200,
    }
    assert_books_ok()

    with pytest.raises(Invalid):
        payout_run_create(currency="gbp")


@pytest.mark.django_db
def test_refused_transfer_fails_the_line_and_returns_the_money(version, seller, settings):
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 100}
    table = set_shares(version, seller.owner, [("org", "50"), ("a@example.com", "50")])
    org, a = payee_of(table, "org"), payee_of(table, "a@example.com")
    enable_payouts(org)
    refusing = enable_payouts(a, fail_transfers=True)
    sell_and_release(version, refs=["f1"])

    run = payout_run_create(currency="usd")
    assert available(a) == 0
    result = payout_run_execute(run=run)
    assert (result.sent, result.failed) == (1, 1)
    failed = run.lines.get(payee=a)
    assert failed.status == "failed" and failed.failure_code == "balance_insufficient"
    assert failed.reversal_transaction.idempotency_key == f"payout-reversal:{failed.pk}"
    assert available(a) == 500 * M  # back to available
    assert [t.destination for t in transfers_of(run)] == [org.payout_account.stripe_account_id]
    run.refresh_from_db()
    assert run.status == "completed"
    assert_books_ok()

    # Executing again changes nothing; a later run pays the money once the account works.
    payout_run_execute(run=run)
    assert len(transfers_of(run)) == 1
    fail_transfers_set(refusing, False)
    retry = payout_run_create(currency="usd")
    assert {line.payee_id: line.amount_cents for line in retry.lines.all()} == {a.pk: 500}
    payout_run_execute(run=retry)
    assert retry.lines.get().status == "paid"
    assert available(a) == 0
    assert_books_ok()


@pytest.mark.django_db
def test_stripe_down_leaves_lines_pending_then_the_next_execution_pays(
    version, three_way, settings
):
    payees, _ = three_way
    sell_and_release(version, refs=["d1"])
    run = payout_run_create(currency="usd")
    working_base = settings.STRIPE_API_BASE

    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = payout_run_execute(run=run)
    assert result.stripe_unavailable and (result.sent, result.failed) == (0, 0)
    assert set(run.lines.values_list("status", flat=True)) == {"pending"}
    run.refresh_from_db()
    assert run.status == "open"
    assert_books_ok()

    settings.STRIPE_API_BASE = working_base
    result = payout_run_execute(run=run)
    assert (result.sent, result.paid, result.stripe_unavailable) == (3, 3, False)
    assert len(transfers_of(run)) == 3
    assert set(run.lines.values_list("status", flat=True)) == {"paid"}
    assert_books_ok()


@pytest.mark.django_db
def test_crash_between_the_stripe_call_and_our_commit_never_pays_twice(
    version, three_way, settings
):
    sell_and_release(version, refs=["x1"])
    run = payout_run_create(currency="usd")
    client = emulator()

    # An execution claims a line and makes its transfer, then dies before recording it: its
    # transaction is rolled back and the line stays `sending`.
    line = _line_claim(run, now=timezone.now())
    try:
        with transaction.atomic():
            made = _transfer_send(line, run, client)
            raise RuntimeError("killed")
    except RuntimeError:
        pass
    line.refresh_from_db()
    assert line.status == "sending" and not line.transfer_id
    assert_books_ok()

    # Inside the lease, another execution leaves the line alone (it may still be in flight).
    payout_run_execute(run=run)
    line.refresh_from_db()
    assert line.status == "sending"

    settings.PAYOUT_SENDING_LEASE_SECONDS = 0
    payout_run_execute(run=run, now=timezone.now() + timedelta(seconds=1))
    line.refresh_from_db()
    assert line.status == "paid" and line.transfer_id == made.id
    transfers = transfers_of(run)
    assert len(transfers) == 3
    assert [t.id for t in transfers if t.metadata["payout_line"] == str(line.pk)] == [made.id]
    assert JournalTransaction.objects.filter(kind="payout", external_reference=made.id).count() == 1
    assert_books_ok()


@pytest.mark.django_db
def test_refund_after_payout_is_netted_by_the_next_run(version, three_way):
    payees, _ = three_way
    org = payees[0]
    sale, _ = sell_and_release(version, refs=["n1", "n2"])
    run = payout_run_create(currency="usd")
    payout_run_execute(run=run)
    refund_post(refund_id="re_n1", sale=sale, amount_cents=1000)  # full refund after payout
    assert available(org) < 0
    sell_and_release(version, refs=["n3", "n4", "n5"])
    # Three new shares of ~333.33 cents minus the refunded one already paid out, plus the
    # sub-cent remainder carried from the first run.
    netted = available(org)
    assert 666 * M < netted < 668 * M
    next_run = payout_run_create(currency="usd")
    assert next_run.lines.get(payee=org).amount_cents == netted // M
    assert 0 <= available(org) < M
    assert_books_ok()


# --- three executions in separate processes -------------------------------------------------------

WORKER = """
import sys
import django
django.setup()
from payouts.models import PayoutRun
from payouts.services.runs import payout_run_execute

result = payout_run_execute(run=PayoutRun.objects.get(pk=int(sys.argv[1])))
print("done", result.sent, result.failed)
"""


@pytest.mark.django_db(transaction=True)
def test_three_concurrent_executions_in_separate_processes_make_one_transfer_per_line(
    version, seller, settings
):
    settings.PAYOUT_THRESHOLD_CENTS = {"usd": 100}
    emails = [f"p{n}@example.com" for n in range(12)]
    table = set_shares(
        version, seller.owner, [("org", 1)] + [(e, 1) for e in emails], basis="weight"
    )
    for who in ["org", *emails]:
        enable_payouts(payee_of(table, who))
    sell_and_release(version, refs=[f"c{n}" for n in range(3)], gross_cents=13 * 300)
    run = payout_run_create(currency="usd")
    assert run.line_count == 13

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "STRIPE_API_BASE": settings.STRIPE_API_BASE,
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(run.pk)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    sent = 0
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.startswith("done")
        sent += int(out.split()[1])
    assert sent == 13  # each line recorded by exactly one process

    transfers = transfers_of(run)
    assert len(transfers) == 13
    assert sorted(t.metadata["payout_line"] for t in transfers) == sorted(
        str(pk) for pk in run.lines.values_list("pk", flat=True)
    )
    assert {t.id for t in transfers} == set(run.lines.values_list("transfer_id", flat=True))
    assert JournalTransaction.objects.filter(kind="payout").count() == 13
    assert_books_ok()


# --- admin audit ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_audit_from_run_to_lines_entries_and_sales(
    client, version, three_way, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from payouts.services.reconciliation import reconciliation_run
    from tests.factories import make_user

    payees, _ = three_way
    client.force_login(make_user(is_staff=True, groups=["finance"]))
    sell_and_release(version, refs=["adm1", "adm2"])
    run = payout_run_create(currency="usd")
    changelist = reverse("admin:payouts_payoutrun_changelist")
    # The action enqueues the execution (eager in tests: it runs on commit) and shows its job.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(changelist, {"action": "execute_runs", "_selected_action": [run.pk]})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert 'id="job-state">done<' in page and '<th scope="row">sent</th><td>3</td>' in page
    line = run.lines.get(payee=payees[0])
    line.refresh_from_db()
    assert line.status == "paid"

    page = client.get(reverse("admin:payouts_payoutrun_change", args=[run.pk])).content.decode()
    assert "paid: 3" in page and 'name="_save"' not in page
    page = client.get(reverse("admin:payouts_payoutline_change", args=[line.pk])).content.decode()
    assert f"payout-run:{run.pk}" in page and f"payout-line:{line.pk}" in page
    assert line.transfer_id in page
    assert "adm1" in page and "adm2" in page and "pi_adm1" in page  # the sales behind it

    csv_body = client.get(reverse("admin:payouts_payoutrun_csv", args=[run.pk])).content.decode()
    rows = csv_body.strip().splitlines()
    assert rows[0].startswith("line,payee,") and len(rows) == 4
    assert f"{line.pk},{line.payee_id}," in csv_body and line.transfer_id in csv_body

    statement = reverse("admin:payouts_payee_statement", args=[line.payee_id, "usd"])
    assert f"payout-run:{run.pk}" in client.get(statement).content.decode()
    statement_csv = client.get(statement + "?format=csv").content.decode().strip().splitlines()
    # Two hold releases, then the reservation; the running balance ends at the remainder.
    assert [r.split(",")[2] for r in statement_csv[1:]] == [
        "hold_release",
        "hold_release",
        "payout_reserve",
    ]
    assert statement_csv[-1].split(",")[-1] == f"0.{available(payees[0]):06d}"

    assert "OK" in client.get(reverse("admin:payouts_verify_ledger")).content.decode()
    report = reconciliation_run()
    page = client.get(
        reverse("admin:payouts_reconciliationreport_change", args=[report.pk])
    ).content.decode()
    assert "problems" in page
    assert client.post(reverse("admin:payouts_reconciliation_run")).status_code == 302
    assert client.get(reverse("admin:payouts_payoutrun_add")).status_code == 403


@pytest.mark.django_db
def test_the_database_checks_line_references_and_keeps_runs_and_lines(version, three_way):
    from django.db import DatabaseError

    sell_and_release(version, refs=["db1"])
    run = payout_run_create(currency="usd")
    line = run.lines.first()
    statements = [
        (
            "INSERT INTO payouts_payoutline (id, run_id, payee_id, currency, amount_cents,"
            " status, destination, idempotency_key, transfer_id, attempts, failure_code,"
            " failure_message, created_at) VALUES (%s, %s, %s, 'usd', 1, 'failed', 'acct_x',"
            " %s, '', 0, '', '', now())",
            [10**9, run.pk, 10**9, str(10**9)],
        ),
        (
            "INSERT INTO payouts_payoutline (id, run_id, payee_id, currency, amount_cents,"
            " status, destination, idempotency_key, transfer_id, attempts, failure_code,"
            " failure_message, created_at) VALUES (%s, %s, %s, 'usd', 1, 'failed', 'acct_x',"
            " %s, '', 0, '', '', now())",
            [10**9, 10**9, line.payee_id, str(10**9)],
        ),
        ("UPDATE payouts_payoutline SET payee_id = %s WHERE id = %s", [10**9, line.pk]),
        ("DELETE FROM payouts_payoutline WHERE id = %s", [line.pk]),
        ("DELETE FROM payouts_payoutrun WHERE id = %s", [run.pk]),
        (
            "UPDATE payouts_payoutline SET idempotency_key = 'other' WHERE id = %s",
            [line.pk],
        ),
    ]
    for sql, params in statements:
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    assert PayoutLine.objects.filter(pk=line.pk, payee_id=line.payee_id).exists()
