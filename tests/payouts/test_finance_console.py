"""The finance console of the admin, used by a member of the `finance` staff group: the finance
overview (trial balance, clearing accounts, money owed, next payout runs, refunds,
reconciliation, ledger verification) and payout execution and reconciliation started from the
admin, which only enqueue the Celery task (no Stripe call in the admin request) and show the
job's progress. Everything against the real database, Redis broker and Stripe emulator."""

import base64
import json
import re

import pytest
import redis
from django.conf import settings
from django.urls import reverse

from config.celery import ACCOUNTING, queues
from config.celery import app as celery_app
from payouts import progress
from payouts.models import MICRO_PER_CENT, JournalTransaction, PayoutLine, ReconciliationReport
from payouts.services import refund_post, sale_post
from payouts.services.runs import payout_run_create
from tests.factories import make_user
from tests.payouts import test_payout_runs
from tests.payouts.test_payout_runs import available, sell_and_release, transfers_of

pytestmark = pytest.mark.django_db
M = MICRO_PER_CENT
three_way = test_payout_runs.three_way  # the payees of a dataset, each with payouts enabled


@pytest.fixture
def finance(client):
    """A staff user of the finance group (not a superuser), logged in."""
    user = make_user(is_staff=True, groups=["finance"])
    assert not user.is_superuser
    client.force_login(user)
    return user


def overview(client):
    response = client.get(reverse("admin:payouts_finance_overview"))
    assert response.status_code == 200
    return response.context["overview"], response.content.decode()


# --- the overview ---------------------------------------------------------------------------------


def test_the_overview_shows_the_books_as_the_ledger_and_the_next_run_will_have_them(
    client, finance, version, three_way
):
    payees, _ = three_way
    sales = sell_and_release(version, refs=["fo1", "fo2"], fee_cents=100)
    pending_sale = sale_post(
        order_ref="fo3",
        dataset_version=version,
        gross_cents=600,
        platform_fee_cents=0,
        currency="usd",
        external_reference="pi_fo3",
    )
    refund_post(refund_id="re_fo3_overview", sale=pending_sale, amount_cents=300)

    books, page = overview(client)
    (usd,) = books.trial_balance
    assert usd.currency == "usd" and usd.balanced and usd.balance == 0
    assert usd.debits == usd.credits > 0
    assert "balanced ✓" in page and "NOT BALANCED" not in page
    # Clearing holds the buyers' money: 2 × 1000 + 600 paid, 300 refunded.
    assert usd.of("payment_clearing") == (2 * 1000 + 600 - 300) * M
    assert usd.of("platform_revenue") == 2 * 100 * M

    (owed,) = books.owed
    assert owed.pending == (600 - 300) * M  # fo3 is still inside the refund window
    assert owed.available == sum(available(p) for p in payees) == 2 * 900 * M
    assert owed.in_transit == 0

    assert [(c.currency, c.ok) for c in books.clearing] == [("usd", True)]
    assert "zero ✓" in page and "NOT ZERO" not in page

    assert [r.idempotency_key for r in books.refunds] == ["refund:re_fo3_overview"]
    assert books.refunds[0].amount == 300 * M and "re_fo3_overview" in page

    head = JournalTransaction.objects.order_by("-sequence").first()
    assert books.verification.ok and books.verification.head == head.hash
    assert head.hash in page and "MISMATCH" not in page

    # The forecast is what the next run then takes: every payee, whole cents.
    (forecast,) = [f for f in books.forecast if f.currency == "usd"]
    run = payout_run_create(currency="usd")
    assert (forecast.payees, forecast.amount_cents) == (run.line_count, run.total_cents)
    assert (forecast.payees, forecast.amount_cents) == (3, 1800)

    books, page = overview(client)
    (owed,) = books.owed
    assert owed.in_transit == 1800 * M and books.clearing[0].ok
    assert [(f.payees, f.amount_cents) for f in books.forecast if f.currency == "usd"] == [(0, 0)]
    assert books.verification.head == run.reserve_transaction.hash  # the cache followed the head
    assert sales  # the released sales are in the books above


def test_clearing_that_is_not_zero_is_marked_in_words(client, finance, version, three_way):
    sell_and_release(version, refs=["fz1"])
    run = payout_run_create(currency="usd")
    line = run.lines.order_by("pk").first()
    # A line finished behind the ledger's back (what a bug would do): its money stays in transit.
    PayoutLine.objects.filter(pk=line.pk).update(status="failed")

    books, page = overview(client)
    (check,) = books.clearing
    assert not check.ok and check.difference == line.amount_cents * M
    assert "✗ NOT ZERO" in page and 'class="errornote"' in page


def test_the_latest_reconciliation_and_its_problems_are_shown(
    client, finance, version, django_capture_on_commit_callbacks
):
    sale_post(
        order_ref="fr1",
        dataset_version=version,
        gross_cents=500,
        platform_fee_cents=0,
        currency="usd",
        external_reference="pi_not_at_stripe_fr1",
    )
    with django_capture_on_commit_callbacks(execute=True):  # eager in tests: runs on commit
        assert client.post(reverse("admin:payouts_reconciliation_run")).status_code == 302
    report = ReconciliationReport.objects.order_by("-pk").first()
    assert report is not None and not report.ok
    books, page = overview(client)
    assert books.report == report
    assert f"#{report.pk}" in page and "problem" in page
    assert "pi_not_at_stripe_fr1" in page  # the unmatched sale, named
    # Our own ledger's unmatched entries come first, before Stripe objects the ledger lacks
    # (the shared emulator holds other tests' charges: more problems than the page shows).
    first = books.report_problems[0]
    assert (first["object"], first["problem"]) == ("ledger_sale", "unmatched")


def test_only_finance_staff_see_the_overview(client, finance):
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:payouts_finance_overview") in index

    reviewer = make_user(is_staff=True, groups=["reviewer"])
    client.force_login(reviewer)
    assert client.get(reverse("admin:payouts_finance_overview")).status_code == 403
    assert (
        reverse("admin:payouts_finance_overview")
        not in client.get(reverse("admin:index")).content.decode()
    )
    for name in ("payouts_verify_ledger", "payouts_reconciliation_run", "payouts_payoutrun_create"):
        assert client.get(reverse(f"admin:{name}")).status_code == 403, name
    assert client.post(reverse("admin:payouts_reconciliation_run")).status_code == 403
    assert not ReconciliationReport.objects.exists()

    client.logout()
    anonymous = client.get(reverse("admin:payouts_finance_overview"))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


# --- execution and reconciliation as Celery jobs --------------------------------------------------


def queued_messages(job_id: str) -> list[tuple[str, list]]:
    """(task name, args) of the messages waiting in the broker's queue for `job_id`."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = queues()[ACCOUNTING]  # config/celery.py routes payout runs and reconciliation there
    found = []
    for raw in broker.lrange(queue, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        if job_id in args:
            found.append((message["headers"]["task"], args, raw))
    for *_, raw in found:
        broker.lrem(queue, 1, raw)
    return [(name, args) for name, args, _ in found]


@pytest.fixture
def broker_only():
    """Tasks go to the Redis broker instead of running in-process (as in production)."""
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = False
    yield
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = True


def job_id_of(response) -> str:
    assert response.status_code == 302
    match = re.search(r"/jobs/([0-9a-f]+)/$", response["Location"])
    assert match, response["Location"]
    return match.group(1)


def test_executing_a_run_from_the_admin_only_enqueues_then_shows_the_workers_progress(
    client, finance, version, three_way, broker_only, django_capture_on_commit_callbacks
):
    sell_and_release(version, refs=["fx1"])
    run = payout_run_create(currency="usd")
    confirm = client.get(reverse("admin:payouts_payoutrun_execute", args=[run.pk]))
    assert confirm.status_code == 200 and 'value="Execute run"' in confirm.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:payouts_payoutrun_execute", args=[run.pk]))
    job_id = job_id_of(response)

    # The request made no transfer: the lines wait, the task waits in the queue.
    assert transfers_of(run) == []
    assert set(run.lines.values_list("status", flat=True)) == {"pending"}
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and 'id="job-state">queued<' in html
    assert 'http-equiv="refresh"' in html  # it refreshes itself while unfinished
    messages = queued_messages(job_id)
    assert messages == [("payouts.tasks.payout_run_execute", [run.pk, job_id, finance.pk])]

    # A worker takes it (here: the same task, run in this process).
    name, args = messages[0]
    celery_app.tasks[name].apply(args=args).get()

    html = client.get(response["Location"]).content.decode()
    assert 'id="job-state">done<' in html and 'http-equiv="refresh"' not in html
    job = progress.job_get(job_id)
    assert job.result["sent"] == 3 and job.result["paid"] == 3 and job.started_by == finance.pk
    assert "<td>paid</td><td>3</td>" in html
    assert len(transfers_of(run)) == 3
    assert set(run.lines.values_list("status", flat=True)) == {"paid"}


def test_reconciling_from_the_admin_only_enqueues_then_links_the_report(
    client, finance, broker_only, django_capture_on_commit_callbacks
):
    before = ReconciliationReport.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:payouts_reconciliation_run"))
    job_id = job_id_of(response)
    assert ReconciliationReport.objects.count() == before  # nothing listed at Stripe yet
    assert progress.job_get(job_id).state == progress.QUEUED
    (message,) = queued_messages(job_id)
    assert message == ("payouts.tasks.reconcile", [job_id])

    celery_app.tasks[message[0]].apply(args=message[1]).get()
    report = ReconciliationReport.objects.order_by("-pk").first()
    html = client.get(response["Location"]).content.decode()
    assert 'id="job-state">done<' in html
    assert reverse("admin:payouts_reconciliationreport_change", args=[report.pk]) in html


def test_a_job_whose_task_fails_says_so(client, finance, settings):
    job = progress.job_create(kind=progress.RECONCILIATION, subject=None, user=finance)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # Stripe unreachable
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the Stripe client raises
        celery_app.tasks["payouts.tasks.reconcile"].apply(args=[job.id], throw=True).get()
    html = client.get(reverse("admin:payouts_finance_job", args=[job.id])).content.decode()
    assert 'id="job-state">failed<' in html and "✗ Failed:" in html
    assert 'http-equiv="refresh"' not in html


def test_the_changelist_action_enqueues_and_shows_the_progress(
    client, finance, version, three_way, django_capture_on_commit_callbacks
):
    sell_and_release(version, refs=["fa1"])
    run = payout_run_create(currency="usd")
    with django_capture_on_commit_callbacks(execute=True):  # eager in tests: runs on commit
        response = client.post(
            reverse("admin:payouts_payoutrun_changelist"),
            {"action": "execute_runs", "_selected_action": [run.pk]},
        )
    job = progress.job_get(job_id_of(response))
    assert job.state == progress.DONE and job.result["sent"] == 3
    assert set(run.lines.values_list("status", flat=True)) == {"paid"}


def test_staff_without_the_permission_cannot_execute_or_export(client, version, three_way):
    sell_and_release(version, refs=["fp1"])
    run = payout_run_create(currency="usd")
    client.force_login(make_user(is_staff=True, groups=["support"]))
    assert client.post(reverse("admin:payouts_payoutrun_execute", args=[run.pk])).status_code == 403
    assert client.get(reverse("admin:payouts_payoutrun_csv", args=[run.pk])).status_code == 403
    assert set(run.lines.values_list("status", flat=True)) == {"pending"}
    assert transfers_of(run) == []
