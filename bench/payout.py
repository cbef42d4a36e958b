"""Payout benchmark: creating a payout run for 100,000 payees with available balances, against a
raw `INSERT ... SELECT generate_series(1, 100000)` into an entries-shaped table.

Builds its own throw-away database (`datacollective_bench_payout`, dropped and recreated,
migrated), seeded like bench/split.py (one organisation, one dataset version, 100,000
contributors with payees and a weight-basis share table), plus an enabled payout account per
payee (set-based SQL). For each of ROUNDS currencies, one sale split over the 100,000 payees and
its hold release give every payee an available balance (untimed). Then, for each round,
alternating which goes first:

* ours: `payouts.services.runs.payout_run_create(currency=<round's currency>)` end to end,
  commit included: balances of 100,000 available accounts summed under the chain lock (one
  index-only sum per account), 100,000 payout lines inserted with one INSERT ... SELECT, the
  reservation posted (100,001 entries streamed from the server in chunks to be hash chained,
  then written with one INSERT ... SELECT: nothing per payee is held in the process), the
  deferred balance check at commit;
* baseline: the same raw INSERT as bench/split.py, committed.

Medians are compared. Each run is checked: one line per payee, whole cents, the reservation
balanced, each payee's available balance left in [0, 1 cent).

    bench payout: ours_s=<x> baseline_s=<x> payees=100000 ratio=<baseline_s / ours_s>
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

os.environ.setdefault(
    "BENCH_SPLIT_DB_NAME", os.environ.get("BENCH_DB_NAME", "datacollective_bench") + "_payout"
)
SIZES = [int(x) for x in os.environ.get("BENCH_PAYOUT_SIZES", "100000,1000000").split(",")]
os.environ["BENCH_SPLIT_PAYEES"] = os.environ.get("BENCH_PAYOUT_PAYEES", str(SIZES[0]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import split  # noqa: E402
from harness import log, peak_rss_mb, reset_peak_rss, rss_mb, run_per_size  # noqa: E402

PAYEES = split.PAYEES
ROUNDS = int(os.environ.get("BENCH_PAYOUT_ROUNDS", "3" if PAYEES <= 100_000 else "1"))
# A warm-up run (its own currency) first, up to 100,000 payees; above, seeding one more
# currency costs minutes, and the measured run goes first.
WARM = os.environ.get("BENCH_PAYOUT_WARM", "1" if PAYEES <= 100_000 else "0") == "1"
CURRENCIES = ["usd", "eur", "gbp", "chf", "cad", "aud", "jpy", "sek", "nok", "dkk"][: ROUNDS + WARM]
TARGET_RATIO = 0.3
TARGET_MAX_PAYEES = 100_000  # the ratio target; above, the run must complete, RSS is reported
# The smallest weight (1 of ~500 per payee) still gets 2 cents: at or above the threshold.
GROSS_CENTS = 1_000 * PAYEES


def seed_payout_accounts() -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO contributors_payoutaccount
                (payee_id, stripe_account_id, details_submitted, payouts_enabled,
                 created_at, updated_at)
            SELECT id, 'acct_bench' || id, true, true, now(), now()
            FROM contributors_payee ORDER BY id
            """
        )


def seed_balances(version, table) -> None:
    """One sale per currency over every payee, released: every payee has available money."""
    from django.db import connection
    from django.utils import timezone

    from payouts.services import refund_window, sale_hold_release, sale_post

    for currency in CURRENCIES:
        t = time.perf_counter()
        sale = sale_post(
            order_ref=f"bench-payout-{currency}",
            dataset_version=version,
            gross_cents=GROSS_CENTS,
            platform_fee_cents=0,
            currency=currency,
            share_table=table,
        )
        sale_hold_release(sale=sale, now=timezone.now() + refund_window() + timedelta(seconds=1))
        log(f"{currency}: sale + hold release over {PAYEES} payees {time.perf_counter() - t:.2f}s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


RSS: list[tuple[float, float]] = []  # (RSS before, peak during) of each run, MB


def create_run(currency: str) -> tuple[float, int]:
    from payouts.services.runs import payout_run_create

    before = rss_mb()
    reset_peak_rss()
    t = time.perf_counter()
    run = payout_run_create(currency=currency)
    seconds = time.perf_counter() - t
    RSS.append((before, peak_rss_mb()))
    log(
        f"run {run.pk} ({currency}): {seconds:.3f}s, RSS {before:.0f} MB before, {RSS[-1][1]:.0f} MB peak"
    )
    return seconds, run.pk


def check_run(run_id: int) -> None:
    from django.db import connection
    from django.db.models import Count, Sum

    from payouts.models import MICRO_PER_CENT, PayoutRun

    run = PayoutRun.objects.get(pk=run_id)
    stats = run.lines.aggregate(n=Count("id"), cents=Sum("amount_cents"))
    if stats["n"] != PAYEES or stats["cents"] != run.total_cents:
        raise RuntimeError(f"run {run_id}: unexpected lines {stats}")
    entries = run.reserve_transaction.entries.aggregate(n=Count("id"), total=Sum("amount"))
    if entries != {"n": PAYEES + 1, "total": 0}:
        raise RuntimeError(f"run {run_id}: unexpected reservation {entries}")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT min(-b.total), max(-b.total) FROM (
                SELECT sum(e.amount) AS total FROM payouts_ledgeraccount a
                JOIN payouts_entry e ON e.account_id = a.id
                WHERE a.kind = 'payee_available' AND a.currency = %s GROUP BY a.id) b
            """,
            [run.currency],
        )
        low, high = cursor.fetchone()
    if not (low >= 0 and high < MICRO_PER_CENT):
        raise RuntimeError(f"run {run_id}: available left in [{low}, {high}] micro")


def main() -> int:
    t0 = time.monotonic()
    split.setup_database()
    from django.conf import settings
    from django.db import connections

    from payouts.services import ledger_verify

    settings.PAYOUT_THRESHOLD_CENTS = dict.fromkeys(CURRENCIES, 1)
    version, table = split.seed()
    seed_payout_accounts()
    seed_balances(version, table)

    if WARM:
        warm_s, warm_id = create_run(CURRENCIES[0])  # warm caches and plans
        check_run(warm_id)
        log(f"warm-up run ({CURRENCIES[0]}): {warm_s:.3f}s")
        RSS.clear()
    split.baseline(0)

    ours_times: list[float] = []
    base_times: list[float] = []
    for round_no, currency in enumerate(CURRENCIES[WARM:], start=1):
        run_ids: list[int] = []

        def ours(c=currency, ids=run_ids):
            seconds, run_id = create_run(c)
            ours_times.append(seconds)
            ids.append(run_id)

        steps = [ours, lambda r=round_no: base_times.append(split.baseline(r))]
        for step in steps if round_no % 2 else reversed(steps):
            step()
        check_run(run_ids[0])
    ours_s, base_s = statistics.median(ours_times), statistics.median(base_times)
    ratio = base_s / ours_s
    before = max(b for b, _p in RSS)
    peak = max(p for _b, p in RSS)
    print(
        f"bench payout: ours_s={ours_s:.3f} baseline_s={base_s:.3f} payees={PAYEES} "
        f"rss_before_mb={before:.0f} run_peak_rss_mb={peak:.0f} ratio={ratio:.2f}",
        flush=True,
    )
    if PAYEES <= TARGET_MAX_PAYEES:
        verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
        print(
            f"target payout: payees={PAYEES} ratio={ratio:.2f} (>= {TARGET_RATIO}) {verdict}",
            flush=True,
        )
    else:
        print(
            f"target payout: payees={PAYEES} completed, run peak RSS {peak:.0f} MB "
            f"({peak - before:+.0f} MB over the process before the run)",
            flush=True,
        )
    log(
        f"median of {ROUNDS} rounds; ours {', '.join(f'{x:.3f}' for x in ours_times)} s, "
        f"baseline {', '.join(f'{x:.3f}' for x in base_times)} s"
    )
    t = time.monotonic()
    result = ledger_verify()
    log(f"{result} (verify_ledger took {time.monotonic() - t:.1f}s)")
    connections.close_all()
    log(f"payout benchmark took {time.monotonic() - t0:.1f}s")
    return 0 if result.ok else 1


if __name__ == "__main__":
    if "BENCH_PAYOUT_PAYEES" in os.environ:
        sys.exit(main())
    sys.exit(run_per_size(__file__, "BENCH_PAYOUT_PAYEES", SIZES))
