"""`make bench`: run every benchmark of this directory, one subprocess each, in order.

    python bench/run_all.py            # all of BENCHMARKS, in order
    python bench/run_all.py catalog    # only the named ones

Sizes default to issue 14's and are set by environment variables (bench/README.md), e.g.
BENCH_DATASETS, BENCH_SPLIT_SIZES, BENCH_PAYOUT_SIZES, BENCH_DEDUPE_SMALL/LARGE,
BENCH_INGEST_SIZES_MB, BENCH_UPLOAD_MB; BENCH_DB_NAME / BENCH_REDIS_URL choose the database
(and its `_split`, `_payout`, `_dedupe` siblings) and the Redis DB.

Progress of each benchmark streams to stderr; its result lines (`bench ...`, `target ...`) are
echoed as they come and repeated together at the end. Exits non-zero if any benchmark failed
(an error, not a missed target)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "catalog",
    "upload",
    "web_upload",
    "web_pages",
    "web_catalogue",
    "ingest",
    "dedupe",
    "split",
    "payout",
    "download",
    "grant_check",
]
RESULT_PREFIXES = ("bench ", "target ")


def run(name: str) -> tuple[int, list[str], float]:
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / f"{name}.py")],
        cwd=HERE.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip("\n")
        if line.startswith(RESULT_PREFIXES):
            lines.append(line)
        print(line, flush=True)
    return proc.wait(), lines, time.monotonic() - t0


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    t0 = time.monotonic()
    results, failed = [], []
    for name in names:
        print(f"[bench] --- {name} ---", file=sys.stderr, flush=True)
        try:
            code, lines, seconds = run(name)
        except KeyboardInterrupt:
            print(f"[bench] {name} interrupted", file=sys.stderr)
            return 130
        results.extend(lines)
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"[bench] {name}: {status} in {seconds:.0f}s", file=sys.stderr, flush=True)
        if code != 0:
            failed.append(name)
    print("\n== results ==")
    for line in results:
        print(line)
    print(f"== {len(names)} benchmark(s) in {time.monotonic() - t0:.0f}s", end="")
    print(f"; failed: {', '.join(failed)}" if failed else "; all ran without errors")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
