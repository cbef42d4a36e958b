"""Split benchmark: one sale split over 100,000 contributors and posted to the ledger, against a
raw `INSERT ... SELECT generate_series(1, 100000)` into an entries-shaped table.

Builds its own throw-away database (`datacollective_bench_split`, dropped and recreated,
migrated; left in place afterwards for inspection). Seeds with set-based SQL: one organisation
(identity services), one published dataset version, 100,000 contributors with their payees and a
weight-basis share table of 100,000 lines (weights 1..1000). A first, untimed sale creates the
100,000 pending accounts (timed separately and reported on stderr; production payees have
accounts from earlier sales). Then, for ROUNDS rounds, alternating which goes first:

* ours: `payouts.services.sale_post(...)` end to end, commit included: share lines and accounts
  read, largest-remainder split in Python, hash chained over the 100,002 entries, one COPY, the
  statement trigger's set-based reference check and the deferred balance check at commit;
* baseline: `INSERT INTO bench_entry_baseline (transaction_id, account_id, currency, amount)
  SELECT <round>, g, 'usd', g FROM generate_series(1, 100000) g` (a table `LIKE payouts_entry
  INCLUDING ALL`: same columns, indexes and checks; no triggers), committed.

Medians are compared. Every posted sale is checked (100,002 entries summing to zero, shares
summing to the base price). Then, logged only: a partial refund, a hold release and a full
refund after release at the same scale, and `ledger_verify()` over everything (timings on
stderr).

    bench split: ours_s=<x> baseline_s=<x> payees=100000 ratio=<baseline_s / ours_s>
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import PG_HOST, PG_PORT, PG_USER, PY, ROOT, log, pg_connect  # noqa: E402

DB_NAME = os.environ.get("BENCH_SPLIT_DB_NAME", "datacollective_bench_split")
PAYEES = int(os.environ.get("BENCH_SPLIT_PAYEES", "100000"))
ROUNDS = int(os.environ.get("BENCH_SPLIT_ROUNDS", "5"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
TARGET_RATIO = 0.5
GROSS_CENTS, FEE_CENTS = 1_234_567, 61_728


def setup_database() -> None:
    import subprocess

    with pg_connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DJANGO_DEBUG="0",
        DATABASE_URL=f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{DB_NAME}",
        REDIS_URL=REDIS_URL,
        CACHE_URL=REDIS_URL,
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_RESULT_BACKEND=REDIS_URL,
        CELERY_TASK_ALWAYS_EAGER="1",
        LOG_LEVEL="WARNING",
    )
    result = subprocess.run(
        [PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise RuntimeError("migrate failed")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    log(f"database {DB_NAME} recreated and migrated")


def seed():
    """One dataset version and a share table of PAYEES contributor lines."""
    from django.db import connection, transaction
    from django.utils import timezone

    from contributors.models import ShareTable
    from marketplace.models import Dataset, DatasetVersion, Submission
    from marketplace.services.identity import organization_create, user_create

    t = time.monotonic()
    owner = user_create(username="bench-owner", email="owner@bench.example")
    org = organization_create(name="Bench voices", owner=owner)
    with transaction.atomic():
        submission = Submission.objects.create(
            name="Bench speech", organization=org, created_by=owner, status="approved"
        )
        dataset = Dataset.objects.create(
            name="Bench speech",
            slug="bench-speech",
            organization=org,
            is_paid=True,
            base_price_cents=GROSS_CENTS - FEE_CENTS,
            published_at=timezone.now(),
        )
        version = DatasetVersion.objects.create(
            dataset=dataset,
            number=1,
            submission=submission,
            archive_key="bench/v1.tar.gz",
            filename="v1.tar.gz",
            size_bytes=1,
            sha256="0" * 64,
            sha256_verified=True,
            published_at=timezone.now(),
            published_by=owner,
        )
        table = ShareTable.objects.create(
            dataset=dataset, version=1, basis=ShareTable.Basis.WEIGHT, created_by=owner
        )
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO contributors_contributor (email, name, invite_token_hash, created_at)
                SELECT 'c' || g || '@bench.example', 'Contributor ' || g, '', now()
                FROM generate_series(1, %s) g
                """,
                [PAYEES],
            )
            cursor.execute(
                """
                INSERT INTO contributors_payee (kind, contributor_id, created_at)
                SELECT 'contributor', id, now() FROM contributors_contributor ORDER BY id
                """
            )
            cursor.execute(
                """
                INSERT INTO contributors_shareline (table_id, payee_id, weight, name)
                SELECT %s, p.id, 1 + (p.id * 7919) %% 1000, '' FROM contributors_payee p
                ORDER BY p.id
                """,
                [table.pk],
            )
            cursor.execute("CREATE TABLE bench_entry_baseline (LIKE payouts_entry INCLUDING ALL)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    log(f"seeded {PAYEES} contributors, payees and share lines in {time.monotonic() - t:.1f}s")
    return version, table


def post_sale(version, table, order_ref: str) -> float:
    from payouts.services import sale_post

    t = time.perf_counter()
    sale_post(
        order_ref=order_ref,
        dataset_version=version,
        gross_cents=GROSS_CENTS,
        platform_fee_cents=FEE_CENTS,
        currency="usd",
        share_table=table,
        external_reference=f"pi_{order_ref}",
    )
    return time.perf_counter() - t


def baseline(round_no: int) -> float:
    from django.db import connection, transaction

    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO bench_entry_baseline (transaction_id, account_id, currency, amount)
            SELECT %s, g, 'usd', g FROM generate_series(1, %s) g
            """,
            [round_no, PAYEES],
        )
    return time.perf_counter() - t


def check_sale(order_ref: str) -> None:
    from django.db.models import Count, Sum

    from payouts.models import MICRO_PER_CENT, JournalTransaction

    sale = JournalTransaction.objects.get(idempotency_key=f"sale:{order_ref}")
    stats = sale.entries.aggregate(n=Count("id"), total=Sum("amount"))
    payees = sale.entries.filter(account__payee__isnull=False).aggregate(total=Sum("amount"))
    if stats != {"n": PAYEES + 2, "total": 0}:
        raise RuntimeError(f"{order_ref}: unexpected entries {stats}")
    if -payees["total"] != (GROSS_CENTS - FEE_CENTS) * MICRO_PER_CENT:
        raise RuntimeError(f"{order_ref}: payee shares do not sum to the base price")


def others(version) -> None:
    """Not compared with the baseline, logged: the other postings at the same scale (a partial
    refund before release, a hold release, a full refund after it)."""
    from datetime import timedelta

    from django.utils import timezone

    from payouts.models import JournalTransaction
    from payouts.services import refund_post, refund_window, sale_hold_release

    t = time.perf_counter()
    refund_post(refund_id="re_bench_partial", order_ref="bench-1", amount_cents=GROSS_CENTS // 3)
    log(f"partial refund over {PAYEES} payees (pending): {time.perf_counter() - t:.3f}s")
    sale = JournalTransaction.objects.get(idempotency_key="sale:bench-2")
    t = time.perf_counter()
    sale_hold_release(sale=sale, now=timezone.now() + refund_window() + timedelta(seconds=1))
    log(f"hold release of {PAYEES} payees: {time.perf_counter() - t:.3f}s")
    t = time.perf_counter()
    refund_post(refund_id="re_bench_full", order_ref="bench-2", amount_cents=GROSS_CENTS)
    log(f"full refund over {PAYEES} payees (available): {time.perf_counter() - t:.3f}s")


def main() -> int:
    t0 = time.monotonic()
    setup_database()
    version, table = seed()
    from django.db import connection, connections

    from payouts.services import ledger_verify

    first = post_sale(version, table, "bench-first")
    check_sale("bench-first")
    log(f"first sale (creates {PAYEES} pending accounts): {first:.3f}s")
    with connection.cursor() as cursor:  # what autovacuum does after 100,000 new accounts
        cursor.execute("ANALYZE payouts_ledgeraccount")
    post_sale(version, table, "bench-warm")  # warm caches and plans, untimed
    baseline(0)

    ours_times: list[float] = []
    base_times: list[float] = []
    for round_no in range(1, ROUNDS + 1):
        runs = [
            lambda r=round_no: ours_times.append(post_sale(version, table, f"bench-{r}")),
            lambda r=round_no: base_times.append(baseline(r)),
        ]
        for run in runs if round_no % 2 else reversed(runs):
            run()
        check_sale(f"bench-{round_no}")
    ours_s, base_s = statistics.median(ours_times), statistics.median(base_times)
    ratio = base_s / ours_s
    print(
        f"bench split: ours_s={ours_s:.3f} baseline_s={base_s:.3f} payees={PAYEES} "
        f"ratio={ratio:.2f}",
        flush=True,
    )
    verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
    print(f"target split: ratio={ratio:.2f} (>= {TARGET_RATIO}) {verdict}", flush=True)
    log(
        f"median of {ROUNDS} rounds; ours {', '.join(f'{x:.3f}' for x in ours_times)} s, "
        f"baseline {', '.join(f'{x:.3f}' for x in base_times)} s"
    )
    others(version)
    t = time.monotonic()
    result = ledger_verify()
    log(f"{result} (verify_ledger took {time.monotonic() - t:.1f}s)")
    connections.close_all()
    log(f"split benchmark took {time.monotonic() - t0:.1f}s")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
