"""Upload benchmark (MDC §6): the official SDK's multipart upload through our API versus boto3's
own managed upload straight to the same S3 endpoint (moto), same file, part size and concurrency.

The SDK path is the real one: U1 `POST /api/uploads` (our server starts the storage multipart
upload), one U2 `GET /api/uploads/{id}/parts/{n}` per part (our server presigns), the part PUTs
straight to storage, U4 `POST /api/uploads/{id}` (our server lists the parts, completes and checks
the stored size). boto3 does the same storage calls without our server in between. The SDK also
hashes the file (SHA-256) while reading it; boto3 computes its default CRC checksums.

The headline baseline is boto3 doing the SAME storage calls: its client configured to send
checksums only where S3 requires them, so its multipart upload is created without a checksum
algorithm, as ours must be (our part PUTs are presigned for clients that send no checksum).
boto3 with its default CRC32 checksums is run too and logged only. moto's completion of an
upload without a checksum algorithm copies and CRCs the whole object (real S3 completes in
about constant time): its cost is printed on its own line.

Prints `bench upload: sdk_s=… boto3_s=… size_mb=256 ratio=<boto3 s / sdk s>` and
`bench upload-completion: sdk_complete_s=… boto3_complete_s=… ratio=…`; exits non-zero if an
upload fails or a stored object has the wrong size."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Stack, bench_party, log  # noqa: E402

SIZE_MB = int(os.environ.get("BENCH_UPLOAD_MB", "256"))
TARGET_RATIO = 0.9
CHUNK = 8 * 1024 * 1024
# Each side uploads the file ROUNDS times (alternating which goes first); medians are compared.
ROUNDS = int(os.environ.get("BENCH_UPLOAD_ROUNDS", "5"))


def make_file(directory: Path, size_mb: int = SIZE_MB) -> Path:
    """`size_mb` MiB of random (incompressible) bytes under an archive name."""
    path = directory / f"bench-{size_mb}mb.tar.gz"
    remaining = size_mb * 1024 * 1024
    with open(path, "wb") as fh:
        while remaining:
            n = min(CHUNK, remaining)
            fh.write(os.urandom(n))
            remaining -= n
    return path


def uploader_key() -> str:
    """An organisation approved for uploads and a key created after the approval."""
    return bench_party(username="bench-uploader", org_name="Bench Uploads", uploads=True).secret


def s3_client(stack: Stack, *, checksums: bool = True):
    """boto3's default client; `checksums=False` only sends checksums where S3 requires them,
    so multipart uploads are created without a checksum algorithm, like our server's."""
    import boto3
    from botocore.config import Config

    extra = {} if checksums else {"request_checksum_calculation": "when_required"}
    return boto3.client(
        "s3",
        endpoint_url=stack.s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, **extra),
    )


def empty_bucket(stack: Stack) -> None:
    """Free moto's memory between rounds (it keeps every object in RAM)."""
    client = s3_client(stack)
    bucket = stack.env["AWS_STORAGE_BUCKET_NAME"]
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def _time_sdk_completion(marks: dict) -> None:
    """Record when the SDK's completion call (U4) starts and ends, to split its time into the
    parts phase and the completion (a timing wrapper only: arguments and result untouched)."""
    import datacollective.upload as sdk_upload

    original = getattr(sdk_upload._complete_upload, "__wrapped__", sdk_upload._complete_upload)

    def timed(*args, **kwargs):
        marks["complete_start"] = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            marks["complete_end"] = time.perf_counter()

    timed.__wrapped__ = original
    sdk_upload._complete_upload = timed


def _completion(marks: dict) -> float:
    if "complete_start" not in marks:
        return float("nan")
    return marks["complete_end"] - marks["complete_start"]


def _phases(t0: float, marks: dict) -> str:
    if "complete_start" not in marks:
        return ""
    parts = marks["complete_start"] - t0
    complete = marks["complete_end"] - marks["complete_start"]
    return f" (parts {parts:.2f}s + completion {complete:.2f}s)"


def run_sdk(
    stack: Stack, path: Path, secret: str, part_size: int, workers: int
) -> tuple[float, float]:
    os.environ["MDC_API_URL"] = stack.base_url + "/api"
    os.environ["MDC_API_KEY"] = secret
    import datacollective
    from datacollective.models import DatasetSubmission

    from marketplace.models import FileUpload

    marks: dict = {}
    _time_sdk_completion(marks)
    draft = datacollective.create_submission_draft(DatasetSubmission(name="Bench upload"))
    sid = draft["submission"]["id"]
    state_path = path.parent / "sdk-state.json"
    t0 = time.perf_counter()
    state = datacollective.upload_dataset_file(
        str(path),
        sid,
        state_path=str(state_path),
        show_progress=False,
        part_size=part_size,
        max_workers=workers,
    )
    elapsed = time.perf_counter() - t0

    size = path.stat().st_size
    upload = FileUpload.objects.get(public_id=state.fileUploadId)
    head = s3_client(stack).head_object(Bucket=stack.env["AWS_STORAGE_BUCKET_NAME"], Key=upload.key)
    if upload.state != FileUpload.State.COMPLETED or upload.stored_size != size:
        raise RuntimeError(f"SDK upload not recorded: {upload.state}, {upload.stored_size} bytes")
    if head["ContentLength"] != size:
        raise RuntimeError(f"SDK upload stored {head['ContentLength']} bytes, expected {size}")
    if upload.submission.public_id != sid or upload.submission.file_upload_id != upload.pk:
        raise RuntimeError("SDK upload is not linked to its submission")
    log(
        f"SDK: {upload.parts_count} parts of {part_size} B, {workers} workers, "
        f"{elapsed:.2f}s{_phases(t0, marks)}, stored object {head['ContentLength']} B verified"
    )
    return elapsed, _completion(marks)


def run_boto3(
    stack: Stack, path: Path, part_size: int, workers: int, *, checksums: bool = True
) -> tuple[float, float]:
    from boto3.s3.transfer import TransferConfig

    client = s3_client(stack, checksums=checksums)
    marks: dict = {}
    client.meta.events.register(
        "before-call.s3.CompleteMultipartUpload",
        lambda **_: marks.__setitem__("complete_start", time.perf_counter()),
    )
    client.meta.events.register(
        "after-call.s3.CompleteMultipartUpload",
        lambda **_: marks.__setitem__("complete_end", time.perf_counter()),
    )
    bucket = stack.env["AWS_STORAGE_BUCKET_NAME"]
    key = f"bench/boto3/{time.time_ns()}/{path.name}"
    config = TransferConfig(
        multipart_threshold=part_size,
        multipart_chunksize=part_size,
        max_concurrency=workers,
        use_threads=True,
    )
    t0 = time.perf_counter()
    client.upload_file(str(path), bucket, key, Config=config)
    elapsed = time.perf_counter() - t0
    size = path.stat().st_size
    head = client.head_object(Bucket=bucket, Key=key)
    if head["ContentLength"] != size:
        raise RuntimeError(f"boto3 upload stored {head['ContentLength']} bytes, expected {size}")
    label = "boto3" if checksums else "boto3 (no checksum algorithm)"
    log(
        f"{label}: {elapsed:.2f}s{_phases(t0, marks)}, stored object {head['ContentLength']} B "
        "verified"
    )
    return elapsed, _completion(marks)


def main() -> int:
    t0 = time.monotonic()
    times: dict[str, list[tuple[float, float]]] = {"sdk": [], "plain": [], "boto3": []}
    with Stack("upload") as stack:
        stack.django()
        from datacollective.upload_utils import DEFAULT_MAX_WORKERS, DEFAULT_PART_SIZE

        t = time.monotonic()
        path = make_file(stack.tmp)
        log(f"{path.name}: {path.stat().st_size} B of random bytes in {time.monotonic() - t:.1f}s")
        secret = uploader_key()
        # Warm-up (not timed): first requests of each gunicorn worker import modules, open the
        # database connection and build the boto3 client; production workers are long-lived.
        small = make_file(stack.tmp, 20)
        for _ in range(2):
            run_sdk(stack, small, secret, 5 * 1024 * 1024, DEFAULT_MAX_WORKERS)
        run_boto3(stack, small, 5 * 1024 * 1024, DEFAULT_MAX_WORKERS, checksums=False)
        small.unlink()
        empty_bucket(stack)
        runs = {
            "sdk": lambda: run_sdk(stack, path, secret, DEFAULT_PART_SIZE, DEFAULT_MAX_WORKERS),
            # The same storage calls as ours: a multipart upload created without a checksum
            # algorithm, parts without checksums, completion (the headline baseline).
            "plain": lambda: run_boto3(
                stack, path, DEFAULT_PART_SIZE, DEFAULT_MAX_WORKERS, checksums=False
            ),
            # boto3's defaults (CRC32 per part), which moto completes more cheaply: logged only.
            "boto3": lambda: run_boto3(stack, path, DEFAULT_PART_SIZE, DEFAULT_MAX_WORKERS),
        }
        order = list(runs)
        try:
            for round_no in range(ROUNDS):
                # Rotate the order so no side always runs first (on a freshly emptied store).
                for which in order[round_no % 3 :] + order[: round_no % 3]:
                    times[which].append(runs[which]())
                empty_bucket(stack)
        finally:
            path.unlink(missing_ok=True)

    def median(which: str, i: int) -> float:
        return statistics.median(x[i] for x in times[which])

    sdk_s, plain_s, boto3_s = median("sdk", 0), median("plain", 0), median("boto3", 0)
    ratio = plain_s / sdk_s
    print(
        f"bench upload: sdk_s={sdk_s:.2f} boto3_s={plain_s:.2f} size_mb={SIZE_MB} "
        f"(boto3 with the same storage calls: no checksum algorithm) ratio={ratio:.2f}",
        flush=True,
    )
    sdk_c, plain_c, boto3_c = median("sdk", 1), median("plain", 1), median("boto3", 1)
    print(
        f"bench upload-completion: sdk_complete_s={sdk_c:.2f} boto3_complete_s={plain_c:.2f} "
        f"boto3_crc_complete_s={boto3_c:.2f} (moto's CompleteMultipartUpload; without a "
        f"checksum algorithm moto copies and CRCs the whole object) "
        f"parts_ratio={(plain_s - plain_c) / (sdk_s - sdk_c):.2f} "
        f"ratio={plain_c / sdk_c:.2f}",
        flush=True,
    )
    verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
    print(f"target upload: ratio={ratio:.2f} (>= {TARGET_RATIO}) {verdict}", flush=True)
    for which, values in times.items():
        log(f"{which}: " + ", ".join(f"{s:.2f}s (completion {c:.2f}s)" for s, c in values))
    log(
        f"boto3 with its default CRC32 checksums: median {boto3_s:.2f}s, ratio "
        f"{boto3_s / sdk_s:.2f} (not the headline: different storage calls)"
    )
    log(f"upload benchmark took {time.monotonic() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
