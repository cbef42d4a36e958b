"""Web catalogue benchmark: the catalogue page (`GET /datasets`, HTML) with a search query and two
filters against `GET /api/datasets` with the same parameters, over 100,000 published datasets
(the catalogue benchmark's seed: bench/catalog_seed.py), on the production stack (gunicorn,
PostgreSQL, Redis cache).

Every request searches for different words (`<word> or <word>` over pairs of the seed's
vocabulary, never repeated in the run, the API's and the page's drawn from the same sequence), so
no cached page can answer: both sides build their answer from the database each time. The two
sides are measured in slices that alternate, so the machine's other load weighs on both alike.

Prints `bench web-catalogue: p95_ms=<page p95> ratio=<api p95 / page p95> ...` and
`target web-catalogue: ratio=… (>= 0.7) p95_ms=… (< 100) ok|MISSED`. Exits non-zero only on
errors (non-200 answers). `BENCH_DATASETS` makes a smaller catalogue (default 100,000)."""

from __future__ import annotations

import http.client
import itertools
import os
import random
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalog_seed import check_seed_shape, seed, vacuum_analyze  # noqa: E402
from catalog_statements import N_DATASETS  # noqa: E402
from catalog_template import publish_real_dataset  # noqa: E402
from catalog_vocabulary import DOMAINS, FILLER, LANGUAGES, QUALIFIERS  # noqa: E402
from harness import LoadResult, Stack, log  # noqa: E402

DURATION = float(os.environ.get("BENCH_DURATION", "10"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "2"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
SLICES = int(os.environ.get("BENCH_SLICES", "5"))
FILTERS = [("task", "ASR"), ("locale", "en")]
TARGET_RATIO = 0.7
TARGET_P95_MS = 100.0


class Words:
    """An endless supply of search texts, each used once: `a or b` over shuffled pairs of the
    words the seed writes names and descriptions with (about 120,000 pairs)."""

    def __init__(self, seed: int = 12):
        words = {w.lower().strip("'") for w in FILLER + QUALIFIERS}
        words |= {name.lower() for name, _locale, _weight in LANGUAGES}
        words |= {w.lower() for d in DOMAINS for w in d.split()}
        vocabulary = sorted(w for w in words if w.isalpha() and len(w) > 2)
        self.pairs = list(itertools.combinations(vocabulary, 2))
        random.Random(seed).shuffle(self.pairs)
        self.next = itertools.count()
        self.lock = threading.Lock()

    def take(self) -> str:
        with self.lock:
            n = next(self.next)
        a, b = self.pairs[n % len(self.pairs)]
        return f"{a} or {b}"


def path_for(base: str, words: Words) -> str:
    return f"{base}?{urlencode([('q', words.take()), *FILTERS])}"


def load_varying(
    port: int, base: str, words: Words, *, duration: float, warmup: float, headers: dict
) -> LoadResult:
    """Like harness.load, but every request has its own search words."""
    start = time.monotonic()
    measure_from, stop_at = start + warmup, start + warmup + duration
    lock = threading.Lock()
    latencies: list[float] = []
    totals = {"errors": 0}
    samples: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local: list[float] = []
        errors = 0
        while (t0 := time.monotonic()) < stop_at:
            try:
                conn.request("GET", path_for(base, words), headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                status = resp.status
                if resp.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                status, body = None, repr(exc).encode()
            t1 = time.monotonic()
            if t1 < measure_from:
                continue
            if status == 200:
                local.append((t1 - t0) * 1000)
            else:
                errors += 1
                with lock:
                    if len(samples) < 3:
                        samples.append(f"{status}: {body[:200]!r}")
        conn.close()
        with lock:
            latencies.extend(local)
            totals["errors"] += errors

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CONCURRENCY)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = max(time.monotonic(), stop_at) - measure_from
    return LoadResult(
        requests=len(latencies),
        seconds=seconds,
        latencies_ms=latencies,
        errors=totals["errors"],
        error_samples=samples,
    )


def pooled(parts: list[LoadResult]) -> LoadResult:
    return LoadResult(
        requests=sum(r.requests for r in parts),
        seconds=sum(r.seconds for r in parts),
        latencies_ms=[ms for r in parts for ms in r.latencies_ms],
        errors=sum(r.errors for r in parts),
        error_samples=[e for r in parts for e in r.error_samples][:5],
    )


def check_same_answers(stack: Stack, words: Words) -> None:
    """The page lists the datasets the API returns, in the same order (for one query)."""
    import re

    import requests

    query = urlencode([("q", words.take()), *FILTERS])
    api = requests.get(f"{stack.base_url}/api/datasets?{query}", timeout=30).json()
    page = requests.get(f"{stack.base_url}/datasets?{query}", timeout=30).text
    ids = re.findall(r'<article class="dataset-card" id="ds-([a-z0-9]+)"', page)
    if ids != [item["id"] for item in api["items"]]:
        raise RuntimeError(f"the page and the API disagree for {query}")
    log(f"{query}: total={api['total']}, page lists the API's {len(ids)} datasets in order")


def measure(stack: Stack) -> int:
    words = Words()
    check_same_answers(stack, words)
    sides = {
        "api": ("/api/datasets", {"Accept": "application/json"}),
        "page": ("/datasets", {"Accept": "text/html"}),
    }
    for base, headers in sides.values():  # warm every worker
        load_varying(stack.web_port, base, words, duration=0, warmup=WARMUP, headers=headers)
    slices: dict[str, list[LoadResult]] = {name: [] for name in sides}
    for _ in range(SLICES):
        for name, (base, headers) in sides.items():
            slices[name].append(
                load_varying(
                    stack.web_port,
                    base,
                    words,
                    duration=DURATION / SLICES,
                    warmup=0,
                    headers=headers,
                )
            )
    results = {name: pooled(parts) for name, parts in slices.items()}
    errors = 0
    for name, result in results.items():
        if result.errors:
            errors += result.errors
            log(f"{name}: {result.errors} non-200 answers, e.g. {result.error_samples}")
    api, page = results["api"], results["page"]
    ratio = api.percentile(95) / page.percentile(95) if page.latencies_ms else 0.0
    print(
        f"bench web-catalogue: p95_ms={page.percentile(95):.1f} ratio={ratio:.2f} "
        f"p50_ms={page.percentile(50):.1f} rps={page.rps:.1f} "
        f"api_p95_ms={api.percentile(95):.1f} api_p50_ms={api.percentile(50):.1f} "
        f"api_rps={api.rps:.1f} datasets={N_DATASETS} distinct_queries={next(words.next)}",
        flush=True,
    )
    verdict = "ok" if ratio >= TARGET_RATIO and page.percentile(95) < TARGET_P95_MS else "MISSED"
    print(
        f"target web-catalogue: ratio={ratio:.2f} (>= {TARGET_RATIO}) "
        f"p95_ms={page.percentile(95):.1f} (< {TARGET_P95_MS:g}) {verdict}",
        flush=True,
    )
    return errors


def main() -> int:
    t0 = time.monotonic()
    with Stack("web-catalogue") as stack:
        stack.django()
        try:
            templates = publish_real_dataset(stack)
        except Exception as exc:  # as bench/catalog.py: the seed falls back to model defaults
            templates = None
            log(f"WARNING: publishing a template dataset failed ({exc!r})")
        offsets = seed(templates)
        if templates:
            check_seed_shape(templates, offsets)
        vacuum_analyze()
        log(f"catalogue of {N_DATASETS} datasets ready in {time.monotonic() - t0:.1f}s")
        errors = measure(stack)
    log(f"web-catalogue benchmark took {time.monotonic() - t0:.1f}s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
