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

Also logged only: three ways of writing the entries with COPY, each timed from the entry
columns to commit (medians of ROUNDS rounds, rotating which goes first) into
`bench_entry_copy` (`LIKE payouts_entry INCLUDING ALL`, no triggers; emptied before every run):
the hand-built binary rows of `payouts.services.journal.binary_copy` (`_copy_rows`, written in
chunks as `_copy_entries` does), psycopg's `copy.write_row` in binary format with `set_types`, and
`write_row` in text format.

    bench split: ours_s=<x> baseline_s=<x> payees=100000 ratio=<baseline_s / ours_s>
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import DB_NAME as BENCH_DB  # noqa: E402
from harness import (  # noqa: E402
    PG_HOST,
    PG_PORT,
    PG_USER,
    PY,
    REDIS_URL,
    ROOT,
    log,
    peak_rss_mb,
    pg_connect,
    run_per_size,
)

DB_NAME = os.environ.get("BENCH_SPLIT_DB_NAME", f"{BENCH_DB}_split")
SIZES = [int(x) for x in os.environ.get("BENCH_SPLIT_SIZES", "100000,1000000").split(",")]
PAYEES = int(os.environ.get("BENCH_SPLIT_PAYEES", str(SIZES[0])))
ROUNDS = int(os.environ.get("BENCH_SPLIT_ROUNDS", "5" if PAYEES <= 100_000 else "3"))
TARGET_RATIO = 0.8
# Logged-only extras (COPY variants, refunds, hold release): by default at up to 100,000 payees.
EXTRAS = os.environ.get("BENCH_SPLIT_EXTRAS", "1" if PAYEES <= 100_000 else "0") == "1"
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


def copy_entry_columns() -> tuple[list, list, list]:
    """Entry columns as `journal_post` holds them: ascending account ids, one currency,
    non-zero micro-unit amounts of both signs."""
    import random

    rng = random.Random(7)
    ids = list(range(1, PAYEES + 1))
    amounts = [rng.choice((-1, 1)) * rng.randint(1, 10**12) for _ in ids]
    return ids, ["usd"] * PAYEES, amounts


def copy_hand_built(cursor, tx_id: int, ids: list, currencies: list, amounts: list) -> None:
    from payouts.services.journal import binary_copy as journal

    rows = memoryview(journal._copy_rows(tx_id, ids, currencies, amounts))
    chunk = journal.COPY_CHUNK * journal._ROW_SIZE
    with cursor.copy(
        "COPY bench_entry_copy (transaction_id, account_id, currency, amount)"
        " FROM STDIN (FORMAT binary)"
    ) as copy:
        copy.write(journal._COPY_HEADER)
        for start in range(0, len(rows), chunk):
            copy.write(rows[start : start + chunk])
        copy.write(journal._COPY_TRAILER)


def copy_write_row_binary(cursor, tx_id: int, ids: list, currencies: list, amounts: list) -> None:
    from itertools import repeat

    with cursor.copy(
        "COPY bench_entry_copy (transaction_id, account_id, currency, amount)"
        " FROM STDIN (FORMAT binary)"
    ) as copy:
        copy.set_types(["int8", "int8", "text", "int8"])
        write_row = copy.write_row
        for row in zip(repeat(tx_id), ids, currencies, amounts, strict=False):
            write_row(row)


def copy_write_row_text(cursor, tx_id: int, ids: list, currencies: list, amounts: list) -> None:
    from itertools import repeat

    with cursor.copy(
        "COPY bench_entry_copy (transaction_id, account_id, currency, amount) FROM STDIN"
    ) as copy:
        write_row = copy.write_row
        for row in zip(repeat(tx_id), ids, currencies, amounts, strict=False):
            write_row(row)


COPY_METHODS = {
    "hand-built": copy_hand_built,
    "write_row binary": copy_write_row_binary,
    "write_row text": copy_write_row_text,
}


def copy_comparison() -> None:
    """Logged only: the entries' COPY written three ways (see the module docstring), each run
    checked to have stored the same rows."""
    from django.db import connection, transaction

    columns = copy_entry_columns()
    expected = (PAYEES, sum(columns[2]))
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_entry_copy (LIKE payouts_entry INCLUDING ALL)")
    times: dict[str, list[float]] = {name: [] for name in COPY_METHODS}
    cpu: dict[str, list[float]] = {name: [] for name in COPY_METHODS}
    names = list(COPY_METHODS)
    tx_id = 0
    for round_no in range(ROUNDS + 1):  # round 0 warms up, untimed
        offset = round_no % len(names)
        for name in names[offset:] + names[:offset]:
            tx_id += 1
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE bench_entry_copy")
            t, c = time.perf_counter(), time.process_time()
            with transaction.atomic(), connection.cursor() as cursor:
                COPY_METHODS[name](cursor, tx_id, *columns)
            elapsed, client = time.perf_counter() - t, time.process_time() - c
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*), sum(amount) FROM bench_entry_copy WHERE transaction_id = %s",
                    [tx_id],
                )
                stored = cursor.fetchone()
            if tuple(stored) != expected:
                raise RuntimeError(f"COPY {name}: stored {stored}, expected {expected}")
            if round_no:
                times[name].append(elapsed)
                cpu[name].append(client)
    medians = {name: statistics.median(values) for name, values in times.items()}
    hand = medians["hand-built"]
    log(
        f"copy hand-built: {hand:.3f} s, "
        f"write_row binary: {medians['write_row binary']:.3f} s, "
        f"write_row text: {medians['write_row text']:.3f} s "
        f"(medians of {ROUNDS} rounds, {PAYEES} entries, columns to commit; "
        f"write_row binary {medians['write_row binary'] / hand:.2f}x, "
        f"write_row text {medians['write_row text'] / hand:.2f}x the hand-built time)"
    )
    # This process's CPU time: building and sending the rows, without the server's share
    # (parsing the rows, index inserts, commit), so the client's cost shows apart.
    log(
        "copy client CPU (medians): "
        + ", ".join(f"{name} {statistics.median(values):.3f} s" for name, values in cpu.items())
    )
    for name, values in times.items():
        log(f"copy {name} rounds: {', '.join(f'{x:.3f}' for x in values)} s")


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
        f"rss_mb={peak_rss_mb():.0f} ratio={ratio:.2f}",
        flush=True,
    )
    verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
    print(
        f"target split: payees={PAYEES} ratio={ratio:.2f} (>= {TARGET_RATIO}) {verdict}",
        flush=True,
    )
    log(
        f"median of {ROUNDS} rounds; ours {', '.join(f'{x:.3f}' for x in ours_times)} s, "
        f"baseline {', '.join(f'{x:.3f}' for x in base_times)} s"
    )
    if EXTRAS:
        copy_comparison()
        others(version)
    if not EXTRAS:
        connections.close_all()
        log(f"split benchmark took {time.monotonic() - t0:.1f}s (ledger_verify skipped)")
        return 0
    t = time.monotonic()
    result = ledger_verify()
    log(f"{result} (verify_ledger took {time.monotonic() - t:.1f}s)")
    connections.close_all()
    log(f"split benchmark took {time.monotonic() - t0:.1f}s")
    return 0 if result.ok else 1


if __name__ == "__main__":
    if "BENCH_SPLIT_PAYEES" in os.environ:
        sys.exit(main())
    sys.exit(run_per_size(__file__, "BENCH_SPLIT_PAYEES", SIZES))
