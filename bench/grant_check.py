"""Grant-check benchmark: download sessions per second (MDC E4 `POST
/api/datasets/{id}/download` of a paid dataset by a buyer holding a grant) against the trivial
DRF endpoint `GET /api/ping`, same run, same load generator.

Each E4 request does everything production does: API-key authentication, the dataset lookup,
the terms check (rendered terms hash vs the organisation's acceptances), the grant check,
presigning the S3 URL, and inserting the download-session row (the context query and the INSERT
as prepared statements unless `DB_PREPARED_STATEMENTS=false` is in the environment: the web
server inherits it, and the stderr log says which ran). The dataset is published the
production way (API, ingestion checks run eagerly here, review service); the buyer accepts the
terms through the API; the grant comes from `grant_issue`, as a paid order will issue it.

Load: `harness.load`'s model (threads, one keep-alive connection each, fixed duration after a
warm-up, non-200 = error), here for POSTs with a Bearer key. Measured in slices alternating
with slices of the baseline so machine noise weighs on both alike.

Prints `bench grant-check: POST /api/datasets/{id}/download rps=… p50_ms=… p95_ms=…
baseline_rps=… ratio=<rps / baseline rps>`; exits non-zero on any non-200 answer or if the
session rows do not match the answered requests."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import LoadResult, Stack, bench_party, load, log  # noqa: E402

DURATION = float(os.environ.get("BENCH_DURATION", "10"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "2"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
SLICES = int(os.environ.get("BENCH_SLICES", "5"))
TARGET_RATIO = 0.6


def setup(stack: Stack) -> tuple[str, str]:
    """Publish a paid dataset, have the buyer accept its terms and hold a grant. Returns
    (dataset id, buyer key)."""
    import requests
    from catalog_template import publish_real_dataset

    from licensing.models import Grant
    from licensing.selectors import dataset_terms
    from licensing.services.grants import grant_issue
    from marketplace.models import Dataset, Submission

    ids = publish_real_dataset(stack)
    dataset = Dataset.objects.get(pk=ids["marketplace_dataset"])
    # Paid, as a datasheet with isPaid/basePriceCents makes it (columns copied at approval).
    Submission.objects.filter(pk=ids["marketplace_submission"]).update(
        is_paid=True, base_price_cents=2_500
    )
    Dataset.objects.filter(pk=dataset.pk).update(is_paid=True, base_price_cents=2_500)
    dataset.refresh_from_db()

    issued = bench_party(username="bench-buyer", org_name="Bench Buyer")
    secret, org, buyer = issued.secret, issued.key.organization, issued.key.user
    url = f"{stack.base_url}/api/datasets/{dataset.public_id}"
    auth = {"Authorization": f"Bearer {secret}"}
    terms = requests.get(f"{url}/terms", headers=auth, timeout=30).json()
    accepted = requests.post(
        f"{url}/terms", json={"termsHash": terms["termsHash"]}, headers=auth, timeout=30
    )
    accepted.raise_for_status()
    refused = requests.post(f"{url}/download", headers=auth, timeout=30)
    if refused.status_code != 402:
        raise RuntimeError(f"without a grant E4 answered {refused.status_code}, expected 402")
    grant_issue(
        organization=org,
        dataset=dataset,
        terms_hash=dataset_terms(dataset).hash,
        source=Grant.Source.PURCHASE,
        actor=buyer,
        price_paid_cents=2_625,
    )
    offer = requests.post(f"{url}/download", headers=auth, timeout=30)
    if offer.status_code != 200 or not offer.json().get("downloadUrl"):
        raise RuntimeError(f"with a grant E4 answered {offer.status_code}: {offer.text[:200]}")
    log(f"paid dataset {dataset.public_id}: 402 without a grant, 200 with one")
    return dataset.public_id, secret


def _pool(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        latencies_ms=[ms for r in results for ms in r.latencies_ms],
        errors=sum(r.errors for r in results),
        error_samples=[e for r in results for e in r.error_samples][:5],
    )


def main() -> int:
    t0 = time.monotonic()
    errors = 0
    with Stack("grant-check") as stack:
        stack.django()
        from django.conf import settings

        from licensing.models import DownloadSession

        log(f"DB_PREPARED_STATEMENTS={settings.DB_PREPARED_STATEMENTS}")

        dataset_id, secret = setup(stack)
        path = f"/api/datasets/{dataset_id}/download"
        headers = {
            "Authorization": f"Bearer {secret}",
            "User-Agent": "datacollective-python/0.7.0 (Python 3.11; Linux) "
            "source function: download_dataset",
        }
        sessions_before = DownloadSession.objects.count()
        answered = 0

        def run_session(duration: float, warmup: float) -> LoadResult:
            nonlocal errors, answered
            result = load(
                stack.web_port,
                path,
                method="POST",
                headers=headers,
                duration=duration,
                warmup=warmup,
                concurrency=CONCURRENCY,
            )
            answered += result.successes_total
            if result.errors:
                errors += result.errors
                log(f"{path}: {result.errors} non-200 answers, e.g. {result.error_samples}")
            return result

        def run_ping(duration: float, warmup: float) -> LoadResult:
            nonlocal errors
            result = load(
                stack.web_port,
                "/api/ping",
                duration=duration,
                warmup=warmup,
                concurrency=CONCURRENCY,
            )
            if result.errors:
                errors += result.errors
                log(f"/api/ping: {result.errors} non-200 answers, e.g. {result.error_samples}")
            return result

        log(
            f"load: {CONCURRENCY} threads, {WARMUP:g}s warm-up + {DURATION:g}s in {SLICES} "
            "slices alternating with the baseline"
        )
        run_ping(0, WARMUP)
        run_session(0, WARMUP)
        slice_s = DURATION / SLICES
        session_slices, ping_slices = [], []
        for _ in range(SLICES):
            ping_slices.append(run_ping(slice_s, 0))
            session_slices.append(run_session(slice_s, 0))
        log(
            "baseline slices "
            + ", ".join(f"{r.rps:.0f}" for r in ping_slices)
            + " rps; download-session slices "
            + ", ".join(f"{r.rps:.0f}" for r in session_slices)
            + " rps"
        )
        sessions = DownloadSession.objects.count() - sessions_before
        if sessions != answered:
            log(f"FAILED: {answered} sessions answered but {sessions} rows recorded")
            errors += 1
        else:
            log(f"{sessions} download-session rows recorded, one per answered request")
    result, base = _pool(session_slices), _pool(ping_slices)
    ratio = result.rps / base.rps if base.rps else 0.0
    print(
        f"bench grant-check: POST {path.replace(dataset_id, '{id}')} rps={result.rps:.1f} "
        f"p50_ms={result.percentile(50):.2f} p95_ms={result.percentile(95):.2f} "
        f"baseline_rps={base.rps:.1f} ratio={ratio:.2f}",
        flush=True,
    )
    verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
    print(f"target grant-check: ratio={ratio:.2f} (>= {TARGET_RATIO}) {verdict}", flush=True)
    log(f"grant-check benchmark took {time.monotonic() - t0:.1f}s")
    if errors:
        log(f"FAILED: {errors} errors")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
