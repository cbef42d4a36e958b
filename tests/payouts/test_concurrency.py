"""Concurrent postings (threads and separate processes, each with its own database connection)
append one at a time: the chain stays linear, idempotency keys post once, refunds never exceed
the sale."""

import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from marketplace.services.errors import Invalid
from payouts.models import GENESIS_HASH, MICRO_PER_CENT, JournalTransaction
from payouts.services import (
    holds_release,
    ledger_verify,
    refund_post,
    refund_window,
    sale_post,
    sale_remainder,
)
from tests.payouts.conftest import set_shares

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _run_threads(n: int, work) -> list:
    """Run work(i) in n threads released together; returns each result or exception."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def target(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _assert_linear_chain(expected: int):
    chain = list(
        JournalTransaction.objects.order_by("sequence").values_list("sequence", "prev_hash", "hash")
    )
    assert [s for s, _, _ in chain] == list(range(1, expected + 1))
    prev = GENESIS_HASH
    for _, prev_hash, digest in chain:
        assert prev_hash == prev
        prev = digest
    result = ledger_verify()
    assert result.ok, result.problem
    assert result.transactions == expected


def test_concurrent_sales_from_threads_keep_the_chain_linear(version, seller):
    set_shares(
        version, seller.owner, [("org", "40"), ("a@example.com", "35"), ("b@example.com", "25")]
    )

    def work(i):
        posted = []
        for k in range(5):
            posted.append(
                sale_post(
                    order_ref=f"t{i}-{k}",
                    dataset_version=version,
                    gross_cents=1000 + i + k,
                    platform_fee_cents=50,
                    currency="usd",
                ).pk
            )
            # Every thread also posts the same order: one transaction for all of them.
            posted.append(
                sale_post(
                    order_ref="shared",
                    dataset_version=version,
                    gross_cents=999,
                    platform_fee_cents=49,
                    currency="usd",
                ).pk
            )
        return posted

    results = _run_threads(6, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    shared = {r[1] for r in results} | {r[3] for r in results}
    assert len(shared) == 1
    assert JournalTransaction.objects.filter(idempotency_key="sale:shared").count() == 1
    _assert_linear_chain(6 * 5 + 1)


def test_concurrent_refunds_never_exceed_the_sale(version, seller):
    set_shares(version, seller.owner, [("org", "50"), ("a@example.com", "50")])
    sale = sale_post(
        order_ref="r-conc",
        dataset_version=version,
        gross_cents=1000,
        platform_fee_cents=100,
        currency="usd",
    )
    results = _run_threads(
        5, lambda i: refund_post(refund_id=f"re_c{i}", sale=sale, amount_cents=300)
    )
    refused = [r for r in results if isinstance(r, Invalid)]
    assert len(refused) == 2 and all(r.code == "refund_exceeds_sale" for r in refused)
    assert sale_remainder(sale).gross == 100 * MICRO_PER_CENT
    _assert_linear_chain(1 + 3)


def test_concurrent_hold_release_runs_release_each_sale_once(version, seller):
    set_shares(version, seller.owner, [("org", "100")])
    for n in range(4):
        sale_post(
            order_ref=f"h{n}",
            dataset_version=version,
            gross_cents=100,
            platform_fee_cents=0,
            currency="usd",
        )
    later = timezone.now() + refund_window() + timedelta(seconds=1)
    results = _run_threads(3, lambda i: holds_release(now=later))
    assert sum(r.released for r in results) == 4
    assert all(r.failed == 0 for r in results)
    assert JournalTransaction.objects.filter(kind="hold_release").count() == 4
    _assert_linear_chain(8)


WORKER = """
import sys
import django
django.setup()
from marketplace.models import DatasetVersion
from payouts.services import sale_post

version = DatasetVersion.objects.get(pk=int(sys.argv[1]))
tag = sys.argv[2]
for k in range(8):
    sale_post(order_ref=f"p{tag}-{k}", dataset_version=version, gross_cents=500 + k,
              platform_fee_cents=25, currency="usd")
    sale_post(order_ref="p-shared", dataset_version=version, gross_cents=777,
              platform_fee_cents=7, currency="usd")
print("done", tag)
"""


def test_concurrent_sales_from_processes_keep_the_chain_linear(version, seller):
    set_shares(version, seller.owner, [("org", "50"), ("c@example.com", "50")])
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(version.pk), str(n)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.startswith("done")
    assert JournalTransaction.objects.filter(idempotency_key="sale:p-shared").count() == 1
    _assert_linear_chain(3 * 8 + 1)
