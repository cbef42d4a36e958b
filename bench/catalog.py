"""Catalogue benchmark (MDC E1, `GET /api/datasets`) against 100,000 published datasets.

First publishes one dataset the production way (API, automatic checks, review service); its rows
are the templates of the bulk seed. Then seeds with set-based SQL (INSERT ... SELECT
generate_series) organisations + owners, approved submissions, completed uploads (+ samples),
version 1 and the datasets (latest_version / size_bytes / has_sample / published_at denormalised,
search_vector filled as `dataset_search_refresh` computes it); columns the seed does not model
copy the template row's value. Checks that each seeded row has the template's shape (NULL vs
not NULL per column), then VACUUM (FULL) ANALYZE.

Then measures, each for a fixed duration after a warm-up, with the harness' load generator:
the baseline `GET /api/ping`, the first catalogue page, a full-text search and two filters.
Prints one `bench catalog: ...` line per shape; exits non-zero only on errors (non-200).

This file runs the benchmark and measures; the catalogue is built by catalog_template.py (the
dataset published through the API, and INSERTs that fall back to its rows), catalog_vocabulary.py
(the words names and descriptions are made of), catalog_statements.py (the seed's SQL) and
catalog_seed.py (running it, the shape check, VACUUM)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalog_seed import check_seed_shape, seed, vacuum_analyze  # noqa: E402
from catalog_template import publish_real_dataset  # noqa: E402
from harness import LoadResult, Stack, load, log  # noqa: E402

DURATION = float(os.environ.get("BENCH_DURATION", "10"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "2"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
SLICES = int(os.environ.get("BENCH_SLICES", "5"))
SEARCH_WORD = "swahili"
TARGET_RATIO = 0.5
TARGET_P95_MS = 50.0

SHAPES = [
    ("/api/datasets", "first page, no filter"),
    (f"/api/datasets?q={SEARCH_WORD}", "full-text search"),
    ("/api/datasets?task=ASR&locale=en", "two filters"),
]

# --- measurement --------------------------------------------------------------------------------


def _pool(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        latencies_ms=[ms for r in results for ms in r.latencies_ms],
        errors=sum(r.errors for r in results),
        error_samples=[e for r in results for e in r.error_samples][:5],
    )


def measure(stack: Stack) -> int:
    """Each shape is measured in SLICES slices interleaved with slices of the baseline, so that
    the load of other processes on the machine weighs on both alike; a shape's ratio is taken
    against the baseline slices measured next to it."""
    errors = 0
    slice_s = DURATION / SLICES

    def run(path: str, duration: float, warmup: float) -> LoadResult:
        nonlocal errors
        result = load(
            stack.web_port, path, duration=duration, warmup=warmup, concurrency=CONCURRENCY
        )
        if result.errors:
            errors += result.errors
            log(f"{path}: {result.errors} non-200 answers, e.g. {result.error_samples}")
        return result

    log(
        f"load: {CONCURRENCY} threads, {WARMUP:g}s warm-up + {DURATION:g}s per shape in "
        f"{SLICES} slices alternating with the baseline (gunicorn sync workers close the "
        "connection after each response)"
    )
    run("/api/ping", 0, WARMUP)
    measured = []
    for path, _what in SHAPES:
        run(path, 0, WARMUP)
        shape_slices, base_slices = [], []
        for _ in range(SLICES):
            base_slices.append(run("/api/ping", slice_s, 0))
            shape_slices.append(run(path, slice_s, 0))
        measured.append((path, _pool(shape_slices), _pool(base_slices)))
        log(
            f"{path}: baseline slices "
            + ", ".join(f"{r.rps:.0f}" for r in base_slices)
            + " rps; shape slices "
            + ", ".join(f"{r.rps:.0f}" for r in shape_slices)
            + " rps"
        )
    baseline = _pool([base for _path, _shape, base in measured])
    rows = [("/api/ping", baseline, baseline)] + [(p, r, b) for p, r, b in measured]
    for path, result, base in rows:
        ratio = result.rps / base.rps if base.rps else 0.0
        print(
            f"bench catalog: {path} rps={result.rps:.1f} p50_ms={result.percentile(50):.2f} "
            f"p95_ms={result.percentile(95):.2f} baseline_rps={base.rps:.1f} "
            f"ratio={ratio:.2f}",
            flush=True,
        )
    for path, result, base in rows[1:]:
        ratio = result.rps / base.rps if base.rps else 0.0
        p95 = result.percentile(95)
        verdict = "ok" if ratio >= TARGET_RATIO and p95 < TARGET_P95_MS else "MISSED"
        print(
            f"target catalog: {path} ratio={ratio:.2f} (>= {TARGET_RATIO}) "
            f"p95_ms={p95:.2f} (< {TARGET_P95_MS:g}) {verdict}",
            flush=True,
        )
    return errors


def report_result_sizes(stack: Stack) -> None:
    """How many rows each measured shape matches (stderr), to show the shapes are realistic."""
    import requests

    for path, what in SHAPES:
        body = requests.get(stack.base_url + path, timeout=30).json()
        log(f"{path} ({what}): total={body['total']}, items={len(body['items'])}")


def main() -> int:
    t0 = time.monotonic()
    with Stack("catalog") as stack:
        stack.django()
        try:
            templates = publish_real_dataset(stack)
        except Exception as exc:  # the flow is what it is; the seed falls back to model defaults
            templates = None
            log(f"WARNING: publishing a template dataset failed ({exc!r}); unmodelled columns")
            log("get model defaults and the seed's shape is NOT verified against production")
        offsets = seed(templates)
        if templates:
            check_seed_shape(templates, offsets)
        vacuum_analyze()
        log(f"catalogue ready in {time.monotonic() - t0:.1f}s")
        report_result_sizes(stack)
        errors = measure(stack)
    log(f"catalog benchmark took {time.monotonic() - t0:.1f}s")
    if errors:
        log(f"FAILED: {errors} non-200 answers")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
