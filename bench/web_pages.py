"""Web pages benchmark: the dashboard, a submission's status page and the organisation's money
(earnings) page of an organisation with 1,000 submissions and 10,000 sales, signed in with a
browser session, against the trivial `GET /api/ping` in the same run (gunicorn, PostgreSQL).

Seeding: submissions through `submission_create` (1,000 service calls); sales through the
ledger's `sale_post` (the same posting a paid order makes) with their order rows written
set-based (the Stripe round trip of each order is not what is measured here).

Prints, per page, `bench web-pages: <page> p50_ms=… p95_ms=… rps=… baseline_p95_ms=…
ratio=<page rps / ping rps>` and one `target web-pages: p95_ms=<worst> (< 100) ok|MISSED`."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import LoadResult, Stack, bench_party, load, log  # noqa: E402

SUBMISSIONS = int(os.environ.get("BENCH_WEB_PAGES_SUBMISSIONS", "1000"))
SALES = int(os.environ.get("BENCH_WEB_PAGES_SALES", "10000"))
DURATION = float(os.environ.get("BENCH_DURATION", "6"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "1"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
TARGET_P95_MS = 100.0


def seed(stack: Stack):
    """The organisation, its submissions and sales; returns (session cookie, submission id)."""
    from catalog_template import publish_real_dataset
    from django.conf import settings
    from django.test import Client

    from licensing.models import Order
    from marketplace.actors import actor_for_member
    from marketplace.models import DatasetVersion, Organization, User
    from marketplace.services.submissions import submission_create
    from payouts.services import sale_post

    t = time.monotonic()
    ids = publish_real_dataset(stack)  # the owner's organisation, approved, one dataset
    owner = User.objects.get(pk=ids["marketplace_user"])
    org = Organization.objects.get(pk=ids["marketplace_organization"])
    version = DatasetVersion.objects.get(pk=ids["marketplace_datasetversion"])
    actor = actor_for_member(user=owner, organization=org)
    log(f"published a dataset through the API in {time.monotonic() - t:.1f}s")
    buyer = bench_party(username="bench-pages-buyer", org_name="Bench Pages Buyer")
    first = None
    for n in range(SUBMISSIONS - 1):
        submission = submission_create(actor=actor, name=f"Bench submission {n}")
        first = first or submission
    log(f"{SUBMISSIONS} submissions in {time.monotonic() - t:.1f}s")
    t = time.monotonic()
    orders = []
    for n in range(SALES):
        ref = f"bench-order-{n}"
        sale_post(
            order_ref=ref,
            dataset_version=version,
            gross_cents=1050,
            platform_fee_cents=50,
            currency="usd",
            external_reference=f"pi_{ref}",
        )
        orders.append(
            Order(
                public_id=ref,
                organization=buyer.key.organization,
                user=buyer.key.user,
                dataset=version.dataset,
                dataset_version=version,
                terms_hash="0" * 64,
                base_price_cents=1000,
                platform_fee_cents=50,
                total_price_cents=1050,
                currency="usd",
                idempotency_key=ref,
                request_fingerprint="0" * 64,
                status=Order.Status.PAID,
                paid_at=version.published_at,
            )
        )
    Order.objects.bulk_create(orders, batch_size=2000)
    log(f"{SALES} sales posted in {time.monotonic() - t:.1f}s")
    client = Client()
    client.force_login(owner)
    return client.cookies[settings.SESSION_COOKIE_NAME].value, first.public_id


def main() -> int:
    errors = 0
    results: dict[str, LoadResult] = {}
    with Stack("web-pages") as stack:
        stack.django()
        session, submission_id = seed(stack)
        headers = {"Cookie": f"sessionid={session}", "Accept": "text/html"}
        pages = {
            "dashboard": "/dashboard",
            "submission-status": f"/submissions/{submission_id}",
            "money": "/organization/money",
        }
        for path in [*pages.values(), "/api/ping"]:  # warm every worker and cache
            load(stack.web_port, path, headers=headers, duration=0, warmup=WARMUP)
        slices = 3
        pooled: dict[str, list[LoadResult]] = {name: [] for name in [*pages, "ping"]}
        for _ in range(slices):
            pooled["ping"].append(
                load(
                    stack.web_port,
                    "/api/ping",
                    duration=DURATION / slices,
                    warmup=0,
                    concurrency=CONCURRENCY,
                )
            )
            for name, path in pages.items():
                pooled[name].append(
                    load(
                        stack.web_port,
                        path,
                        headers=headers,
                        duration=DURATION / slices,
                        warmup=0,
                        concurrency=CONCURRENCY,
                    )
                )
        for name, parts in pooled.items():
            results[name] = LoadResult(
                requests=sum(r.requests for r in parts),
                seconds=sum(r.seconds for r in parts),
                latencies_ms=[ms for r in parts for ms in r.latencies_ms],
                errors=sum(r.errors for r in parts),
                error_samples=[e for r in parts for e in r.error_samples][:3],
            )
            if results[name].errors:
                errors += results[name].errors
                log(
                    f"{name}: {results[name].errors} non-200 answers: {results[name].error_samples}"
                )
    ping = results.pop("ping")
    worst = 0.0
    for name, result in results.items():
        p95 = result.percentile(95)
        worst = max(worst, p95)
        print(
            f"bench web-pages: {name} p50_ms={result.percentile(50):.1f} p95_ms={p95:.1f} "
            f"rps={result.rps:.1f} baseline_p95_ms={ping.percentile(95):.1f} "
            f"ratio={result.rps / ping.rps if ping.rps else 0:.2f}",
            flush=True,
        )
    verdict = "ok" if worst < TARGET_P95_MS else "MISSED"
    print(f"target web-pages: p95_ms={worst:.1f} (< {TARGET_P95_MS:g}) {verdict}", flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
