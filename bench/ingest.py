"""bench ingest: the ingestion inspection of an archive read from object storage, against the
shell baseline `sha256sum archive && tar -tzf archive >/dev/null` on a local copy, same run.

For a ~100 MB and a ~1 GB archive (mostly TSV text, some WAV audio) uploaded to a local S3
server (moto), the inspection runs in a fresh interpreter exactly as the pipeline does it: a
streaming GET of the object through boto3 fed to `inspect_archive` (integrity, safety, manifest,
formats, statistics, personal data, duplicates). Prints per size:

    bench ingest: size_mb=<compressed MB> ours_s=<x> mb_per_s=<x> baseline_s=<x> ratio=<baseline/ours> rss_mb=<peak>

Both sides are timed ROUNDS times, alternating (baseline, ours, baseline, ours) so that they
sample the same load on a shared machine, and the best of each is compared; every run is logged.

Targets (issue 14): ratio >= 2.5 for each size and RSS flat: the peak RSS of the largest size
at most RSS_SLACK_MB above the smallest's (streaming: memory must not grow with the archive)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import log  # noqa: E402
from devtools.processes import free_port, start, stop, wait_for_port  # noqa: E402

BUCKET = "ingest-bench"
SIZES_MB = [int(s) for s in os.environ.get("BENCH_INGEST_SIZES_MB", "100,1000").split(",")]
TARGET_RATIO = 2.5
RSS_SLACK_MB = 20
ROUNDS = 2

MEASURE = r"""
import json, sys, time
import boto3
from botocore.config import Config
from marketplace.ingestion.inspect import inspect_archive
endpoint, bucket, key, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing",
                  config=Config(s3={"addressing_style": "path"}, read_timeout=120))
start = time.perf_counter()
body = s3.get_object(Bucket=bucket, Key=key)["Body"]
report = inspect_archive(body, declared_size=size)
seconds = time.perf_counter() - start
# VmHWM (peak RSS of this process image): ru_maxrss would include the parent's peak at fork,
# which Linux keeps across execve.
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "status": str(report.status), "complete": report.complete,
                  "bytes": report.archive_size, "rss_mb": hwm_kb / 1024}))
"""


def baseline(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["sha256sum", str(path)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["tar", "-tzf", str(path)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    from marketplace.ingestion.bench import make_benchmark_archive

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    moto = start(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        name="moto",
        log=tmp / "moto.log",
    )
    failed = False
    ratios: list[float] = []
    rss: list[float] = []
    try:
        wait_for_port(port, proc=moto)
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(s3={"addressing_style": "path"}),
        )
        s3.create_bucket(Bucket=BUCKET)
        for size_mb in SIZES_MB:
            path = tmp / f"archive-{size_mb}.tar.gz"
            log(f"ingest: generating a ~{size_mb} MB archive")
            make_benchmark_archive(path, target_bytes=size_mb * 1024 * 1024)
            size = path.stat().st_size
            key = f"bench/{path.name}"
            s3.upload_file(
                str(path), BUCKET, key, Config=TransferConfig(multipart_chunksize=64 * 1024 * 1024)
            )
            bases, results = [], []
            for _ in range(ROUNDS):
                bases.append(baseline(path))
                out = subprocess.run(
                    [sys.executable, "-c", MEASURE, endpoint, BUCKET, key, str(size)],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results.append(json.loads(out.stdout.strip().splitlines()[-1]))
                log(f"ingest: {size_mb} MB baseline_s={bases[-1]:.2f} ours={results[-1]}")
            for result in results:
                if not result["complete"] or result["bytes"] != size:
                    log(f"ingest: inspection did not read the whole archive: {result}")
                    failed = True
            base_s = min(bases)
            result = min(results, key=lambda r: r["seconds"])
            result["rss_mb"] = max(r["rss_mb"] for r in results)
            ours = result["seconds"]
            print(
                f"bench ingest: size_mb={size / 1e6:.0f} ours_s={ours:.2f} "
                f"mb_per_s={size / ours / 1e6:.1f} baseline_s={base_s:.2f} "
                f"ratio={base_s / ours:.2f} rss_mb={result['rss_mb']:.0f} status={result['status']}",
                flush=True,
            )
            ratios.append(base_s / ours)
            rss.append(result["rss_mb"])
            s3.delete_object(Bucket=BUCKET, Key=key)
            path.unlink()
        worst = min(ratios)
        growth = rss[-1] - rss[0]
        verdict = "ok" if worst >= TARGET_RATIO and growth <= RSS_SLACK_MB else "MISSED"
        print(
            f"target ingest: worst ratio={worst:.2f} (>= {TARGET_RATIO}) rss growth "
            f"{SIZES_MB[0]}->{SIZES_MB[-1]} MB: {growth:+.0f} MB (<= {RSS_SLACK_MB}) {verdict}",
            flush=True,
        )
    finally:
        stop(moto, timeout=30)
        for f in tmp.glob("*"):
            f.unlink()
        tmp.rmdir()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
