"""Download benchmark (MDC E4/E5): the official SDK's `download_dataset` of a 256 MiB dataset
through our API versus a plain streamed GET of the same object's presigned URL, same run.

The dataset is published the production way: identity services for the organisations and keys;
the SDK's multipart upload, datasheet and submission through our API; the after-submit Celery
pipeline (ingestion checks, run eagerly in this process); the review service's approval. The
buyer accepts the terms through the API (the dataset is free and public, so no grant is needed).

Timed, each side ROUNDS times, alternating which goes first; medians compared:

* SDK: `datacollective.download_dataset(id, overwrite_existing=True)` = E3 (anonymous details),
  E4 (our download session: key, access checks, presigning, session row), then the streamed GET
  from storage written to `<file>.part` in 64 KiB chunks and renamed.
* baseline: `requests.get(<presigned URL>, stream=True)` of a URL obtained from E4 beforehand
  (untimed), written to a file in the same 64 KiB chunks.

Every file written is checked against the dataset's verified SHA-256 (outside the timings).
Prints `bench download: sdk_s=… plain_s=… size_mb=… ratio=<plain s / sdk s>`; exits non-zero if
a download fails or a checksum differs."""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Stack, bench_party, log  # noqa: E402

SIZE_MB = int(os.environ.get("BENCH_DOWNLOAD_MB", "256"))
ROUNDS = int(os.environ.get("BENCH_DOWNLOAD_ROUNDS", "5"))
TARGET_RATIO = 0.9
CHUNK = 1 << 16  # what the SDK reads per iteration


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(8 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def parties() -> tuple[str, str]:
    """(provider key, buyer key): an organisation approved for uploads and a buyer."""
    provider = bench_party(username="bench-provider", org_name="Bench Provider", uploads=True)
    buyer = bench_party(username="bench-buyer", org_name="Bench Buyer")
    return provider.secret, buyer.secret


def publish(stack: Stack, archive: Path, provider_key: str) -> str:
    """Publish `archive` as a free public dataset; returns its id."""
    import datacollective
    from datacollective.models import DatasetSubmission, License, Task, Visibility

    from marketplace.models import Submission, User
    from marketplace.services.review import submission_approve
    from marketplace.tasks import submission_process_submitted

    os.environ["MDC_API_URL"] = stack.base_url + "/api"
    os.environ["MDC_API_KEY"] = provider_key
    t0 = time.monotonic()
    draft = datacollective.create_submission_draft(DatasetSubmission(name="Bench download"))
    sid = draft["submission"]["id"]
    datacollective.update_submission(
        sid,
        DatasetSubmission(
            shortDescription="Benchmark archive",
            longDescription="Text and audio generated for the download benchmark.",
            locale="en",
            task=Task.ASR,
            format="TSV",
            licenseAbbreviation=License.CC_BY_4_0,
            visibility=Visibility.PUBLIC,
            restrictions="Benchmarking only.",
        ),
    )
    datacollective.upload_dataset_file(
        str(archive), sid, state_path=str(archive.parent / "upload-state.json"), show_progress=False
    )
    datacollective.submit_submission(sid, DatasetSubmission(agreeToSubmit=True))
    submission = Submission.objects.get(public_id=sid)
    conf = submission_process_submitted.app.conf
    conf.update(CELERY_TASK_ALWAYS_EAGER=True, CELERY_TASK_EAGER_PROPAGATES=True)
    try:
        submission_process_submitted.delay(submission.pk)
    finally:
        conf.update(CELERY_TASK_ALWAYS_EAGER=False, CELERY_TASK_EAGER_PROPAGATES=False)
    submission.refresh_from_db()
    if submission.status != Submission.Status.IN_REVIEW:
        raise RuntimeError(f"after the checks the submission is {submission.status}")
    version = submission_approve(
        submission=submission, actor=User.objects.get(username="bench-staff")
    )
    log(
        f"published {version.filename}: {version.size_bytes} B, sha256 {version.sha256[:16]}… "
        f"in {time.monotonic() - t0:.1f}s (SDK upload, checks, approval)"
    )
    return version.dataset.public_id


def accept_terms(stack: Stack, dataset_id: str, buyer_key: str) -> None:
    import requests

    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {buyer_key}"
    url = f"{stack.base_url}/api/datasets/{dataset_id}/terms"
    terms = api.get(url, timeout=30).json()
    response = api.post(url, json={"termsHash": terms["termsHash"]}, timeout=30)
    if response.status_code != 201:
        raise RuntimeError(f"accepting the terms: {response.status_code} {response.text}")


def run_sdk(dataset_id: str, directory: Path) -> tuple[float, Path]:
    import datacollective

    t0 = time.perf_counter()
    path = datacollective.download_dataset(
        dataset_id, download_directory=str(directory), show_progress=False, overwrite_existing=True
    )
    return time.perf_counter() - t0, path


def run_plain(stack: Stack, dataset_id: str, buyer_key: str, target: Path) -> float:
    import requests

    offer = requests.post(
        f"{stack.base_url}/api/datasets/{dataset_id}/download",
        headers={"Authorization": f"Bearer {buyer_key}"},
        timeout=30,
    )
    offer.raise_for_status()
    url = offer.json()["downloadUrl"]
    t0 = time.perf_counter()
    with requests.get(url, stream=True, timeout=(10, 60)) as response:
        response.raise_for_status()
        with open(target, "wb") as fh:
            for chunk in response.iter_content(chunk_size=CHUNK):
                fh.write(chunk)
    return time.perf_counter() - t0


def main() -> int:
    t0 = time.monotonic()
    sdk_times: list[float] = []
    plain_times: list[float] = []
    with Stack("download") as stack:
        stack.django()
        from marketplace.ingestion.bench import make_benchmark_archive
        from marketplace.ingestion.limits import MIB
        from marketplace.models import Dataset

        t = time.monotonic()
        archive = stack.tmp / "bench-download.tar.gz"
        make_benchmark_archive(archive, target_bytes=SIZE_MB * MIB)
        log(f"{archive.name}: {archive.stat().st_size} B in {time.monotonic() - t:.1f}s")
        provider_key, buyer_key = parties()
        dataset_id = publish(stack, archive, provider_key)
        archive.unlink()
        accept_terms(stack, dataset_id, buyer_key)
        expected = Dataset.objects.get(public_id=dataset_id).latest_version.sha256
        size = Dataset.objects.get(public_id=dataset_id).latest_version.size_bytes
        os.environ["MDC_API_KEY"] = buyer_key
        sdk_dir, plain_file = stack.tmp / "sdk", stack.tmp / "plain.tar.gz"

        def sdk_round(record: bool) -> None:
            seconds, path = run_sdk(dataset_id, sdk_dir)
            if sha256_of(path) != expected:
                raise RuntimeError("SDK download: SHA-256 differs from the dataset's checksum")
            path.unlink()
            if record:
                sdk_times.append(seconds)
                log(f"SDK download_dataset: {seconds:.2f}s, SHA-256 verified")

        def plain_round(record: bool) -> None:
            seconds = run_plain(stack, dataset_id, buyer_key, plain_file)
            if sha256_of(plain_file) != expected:
                raise RuntimeError("plain GET: SHA-256 differs from the dataset's checksum")
            plain_file.unlink()
            if record:
                plain_times.append(seconds)
                log(f"plain streamed GET: {seconds:.2f}s, SHA-256 verified")

        # Warm-up (untimed): gunicorn workers import, connect and build their boto3 client.
        sdk_round(False)
        plain_round(False)
        for round_no in range(ROUNDS):
            order = [sdk_round, plain_round] if round_no % 2 == 0 else [plain_round, sdk_round]
            for run in order:
                run(True)
    sdk_s, plain_s = statistics.median(sdk_times), statistics.median(plain_times)
    ratio = plain_s / sdk_s
    print(
        f"bench download: sdk_s={sdk_s:.2f} plain_s={plain_s:.2f} size_mb={size / MIB:.0f} "
        f"ratio={ratio:.2f}",
        flush=True,
    )
    verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
    print(f"target download: ratio={ratio:.2f} (>= {TARGET_RATIO}) {verdict}", flush=True)
    log(
        f"median of {ROUNDS} rounds; sdk {', '.join(f'{x:.2f}' for x in sdk_times)} s, "
        f"plain {', '.join(f'{x:.2f}' for x in plain_times)} s"
    )
    log(f"download benchmark took {time.monotonic() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
