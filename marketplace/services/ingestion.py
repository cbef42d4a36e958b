"""The ingestion pipeline: every uploaded archive of a submitted submission is inspected straight
from storage (streaming, see marketplace/ingestion/) before a reviewer sees it.

submitted → checking (one CheckRun per uploaded file) → in_review when every run passed or only
warned; back to draft with the reasons when one failed. A run whose inspection keeps crashing or
cannot read storage ends in `error`: the submission then goes to review with the error visible,
and staff can re-run the checks; approval requires a verified archive."""

import logging
import threading
from contextlib import contextmanager
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from marketplace.models import CheckResult, CheckRun, DatasetVersion, FileUpload, Submission
from marketplace.services.audit import audit_record
from marketplace.services.findings import duplicate_archive_finding, provider_safe
from marketplace.services.members import member_digests_published_elsewhere
from marketplace.storage import bucket, s3_client
from marketplace.tasking import task_enqueue, task_enqueue_on_commit

logger = logging.getLogger(__name__)

S = Submission.Status
R = CheckRun.Status
# Tasks of marketplace.tasks, enqueued by name (marketplace.tasking).
CHECK_RUN_TASK = "marketplace.tasks.check_run_execute"
CONCLUDE_TASK = "marketplace.tasks.submission_checks_conclude_task"


class StorageUnavailable(Exception):
    """Reading the archive from storage failed; the task retries with backoff."""


# Consent withdrawals (issue 13 §2) live in contributors, which registers here in its
# AppConfig.ready() (marketplace never imports it): provider(dataset_id=, digests=) returns
# {sha256: [withdrawn member paths]} for those of `digests` withdrawn from the dataset, or
# None when the dataset has no withdrawal at all.
_withdrawn_digests_providers: list = []


def withdrawn_digests_provider_register(provider) -> None:
    if provider not in _withdrawn_digests_providers:
        _withdrawn_digests_providers.append(provider)


def withdrawn_members_finding(*, dataset_id: int | None, manifest: list) -> dict | None:
    """A new version of a dataset fails while it still holds a member whose SHA-256 a
    contributor's consent withdrawal covers (whatever its path now); None for a dataset without
    withdrawals (no finding at all)."""
    if dataset_id is None or not _withdrawn_digests_providers:
        return None
    paths_by_digest: dict[str, list[str]] = {}
    for entry in manifest:
        paths_by_digest.setdefault(entry[2], []).append(entry[0])
    withdrawn: dict[str, list[str]] | None = None
    for provider in _withdrawn_digests_providers:
        found = provider(dataset_id=dataset_id, digests=sorted(paths_by_digest))
        if found is not None:
            withdrawn = (withdrawn or {}) | found
    if withdrawn is None:
        return None
    if not withdrawn:
        return {
            "name": "withdrawn_members",
            "status": "pass",
            "summary": "No member withdrawn by a contributor (consent withdrawal) remains.",
            "details": {},
        }
    remaining = [
        {"path": path, "sha256": digest, "withdrawnAs": sorted(withdrawn[digest])}
        for digest in sorted(withdrawn)
        for path in paths_by_digest[digest]
    ]
    named = ", ".join(f"{m['path']} (SHA-256 {m['sha256'][:12]}…)" for m in remaining[:5])
    more = f" and {len(remaining) - 5} more" if len(remaining) > 5 else ""
    return {
        "name": "withdrawn_members",
        "status": "fail",
        "summary": (
            f"{len(remaining)} member(s) whose contributor withdrew consent are still in the "
            f"archive: {named}{more}. Remove them (the same content under any path) and upload "
            "the archive again."
        ),
        "details": {"members": remaining[:1000], "count": len(remaining)},
    }


def checks_start(*, submission: Submission) -> list[CheckRun]:
    """Inside the submitting transaction: move to `checking` and queue one run per uploaded
    file that has not been inspected yet (a run is reused for the same upload: idempotent)."""
    uploads = [
        u
        for u in (submission.file_upload, submission.sample_upload)
        if u is not None and u.state == FileUpload.State.COMPLETED
    ]
    runs = []
    for upload in uploads:
        run, _ = CheckRun.objects.get_or_create(upload=upload, defaults={"submission": submission})
        runs.append(run)
    submission.status = S.CHECKING
    submission.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=None,
        organization=submission.organization,
        action="submission.checking",
        obj=submission,
        data={"runs": [r.pk for r in runs]},
    )
    pending = [r.pk for r in runs if r.status not in CheckRun.FINAL]
    for pk in pending:
        task_enqueue_on_commit(CHECK_RUN_TASK, pk)
    if not pending:
        task_enqueue_on_commit(CONCLUDE_TASK, submission.pk)
    return runs


def _claim(run_pk: int) -> CheckRun | None:
    with transaction.atomic():
        run = (
            CheckRun.objects.select_for_update()
            .select_related("upload", "submission")
            .get(pk=run_pk)
        )
        if run.status in CheckRun.FINAL:
            return None
        run.status = R.RUNNING
        run.attempts += 1
        run.started_at = timezone.now()
        run.save(update_fields=["status", "attempts", "started_at", "updated_at"])
        return run


def check_run_execute(*, run_pk: int) -> CheckRun:
    """Inspect the run's file (network and CPU work outside any transaction), then record every
    finding and the run's outcome in one transaction. Safe to run twice or concurrently: a run
    that is already final is left alone, and results are only inserted by the finishing
    transaction that moves the run to a final state under a row lock."""
    run = _claim(run_pk)
    if run is None:
        return CheckRun.objects.get(pk=run_pk)
    with _heartbeat(run_pk=run.pk):
        outcome = inspect_upload(upload=run.upload, submission=run.submission)  # may raise
    return check_run_finish(run_pk=run_pk, outcome=outcome)


def _known_member_hashes(*, exclude_dataset_id: int | None):
    """A lookup for the inspector: which of this archive's member SHA-256s occur in a published
    version of another dataset. Asked once, after the walk, with the archive's own digests; each
    digest is one index lookup in the member table of published versions, so the cost does not
    grow with the catalogue."""

    def lookup(digests: list[str]) -> set[str]:
        return member_digests_published_elsewhere(
            digests=digests, exclude_dataset_id=exclude_dataset_id
        )

    return lookup


@contextmanager
def _heartbeat(*, run_pk: int):
    """While the block runs, write the run's heartbeat (CheckRun.updated_at) every
    INGESTION_HEARTBEAT_SECONDS from a thread of its own: a run whose heartbeat stops lost its
    worker (killed, OOM, node lost), and the sweep queues it again (check_runs_requeue_stale).
    A hung inspection keeps beating until the task's hard time limit kills it, then stops."""
    done = threading.Event()

    def beat():
        try:
            while not done.wait(settings.INGESTION_HEARTBEAT_SECONDS):
                try:
                    check_run_heartbeat(run_pk=run_pk)
                except Exception:  # noqa: BLE001 - a missed beat is retried on the next one
                    logger.warning("heartbeat of check run %s failed", run_pk, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"check-run-{run_pk}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=10)


def check_run_heartbeat(*, run_pk: int) -> None:
    CheckRun.objects.filter(pk=run_pk, status=R.RUNNING).update(updated_at=timezone.now())


def check_run_release(*, run_pk: int) -> None:
    """The run's attempt failed and its task will retry later: back to `queued`, so the sweep
    judges it by the queued threshold, not as a running pass whose heartbeat stopped."""
    CheckRun.objects.filter(pk=run_pk, status=R.RUNNING).update(
        status=R.QUEUED, updated_at=timezone.now()
    )


def inspect_upload(*, upload: FileUpload, submission: Submission) -> dict:
    """Stream the stored object through the inspector and shape its report for check_run_finish."""
    # Imported here, not at the top: the inspectors load isal, Pillow, mutagen and re2, which
    # only the workers that run checks need (web processes import this module for review).
    from marketplace.ingestion.clamd import ClamdClient
    from marketplace.ingestion.inspect import inspect_archive
    from marketplace.ingestion.limits import Limits
    from marketplace.ingestion.report import InputStreamError, Status

    try:
        body = s3_client(read_timeout=120).get_object(Bucket=bucket(), Key=upload.key)["Body"]
    except (BotoCoreError, ClientError) as exc:
        raise StorageUnavailable(f"cannot read {upload.key} from storage: {exc}") from exc
    try:
        report = inspect_archive(
            body,
            declared_sha256=upload.declared_sha256 or None,
            declared_size=upload.stored_size or upload.declared_size,
            limits=Limits(),
            pii_policy="fail" if submission.contains_personal_data is False else "warn",
            clamd=ClamdClient(settings.CLAMD_URL) if settings.CLAMD_URL else None,
            known_member_hashes=_known_member_hashes(exclude_dataset_id=submission.dataset_id),
        )
    except (InputStreamError, BotoCoreError) as exc:
        raise StorageUnavailable(f"reading {upload.key} failed: {exc}") from exc
    finally:
        body.close()
    members = [m.to_dict() for m in report.members]
    integrity = report.check("integrity")
    pii = report.check("personal_data")
    return {
        "results": [c.to_dict() for c in report.checks.values()],
        "sha256": report.archive_sha256 or "",
        "integrity_ok": integrity.status == Status.PASS and report.complete,
        "size": report.archive_size,
        "manifest": report.manifest,
        "statistics": report.check("statistics").details,
        "croissant": {
            "members": [{k: m[k] for k in ("path", "size", "sha256", "kind")} for m in members],
            "tables": [
                {
                    "path": m["path"],
                    "kind": m["kind"],
                    "sha256": m["sha256"],
                    "columns": m["columns"],
                }
                for m in members
                if m.get("columns")
            ],
            "personal_data_summary": pii.summary,
        },
    }


def _overall(statuses: list[str]) -> str:
    if CheckResult.Status.FAIL in statuses:
        return R.FAILED
    if CheckResult.Status.ERROR in statuses:
        return R.ERROR
    if CheckResult.Status.WARN in statuses:
        return R.WARNED
    return R.PASSED


@transaction.atomic
def check_run_finish(*, run_pk: int, outcome: dict) -> CheckRun:
    run = CheckRun.objects.select_for_update().get(pk=run_pk)
    if run.status in CheckRun.FINAL:
        return run
    results = list(outcome["results"])
    # Whole-archive duplicate of another dataset's published version: a failure.
    sha = outcome.get("sha256") or ""
    if sha and run.upload.kind == FileUpload.Kind.DATASET:
        clash = (
            DatasetVersion.objects.filter(sha256=sha)
            .exclude(dataset_id=run.submission.dataset_id)
            .select_related("dataset")
            .first()
        )
        results.append(
            duplicate_archive_finding(clash, run.submission.organization_id)
            if clash
            else {
                "name": "duplicate_archive",
                "status": "pass",
                "summary": "No published dataset has an identical archive.",
                "details": {},
            }
        )
    if run.upload.kind == FileUpload.Kind.DATASET:
        withdrawn = withdrawn_members_finding(
            dataset_id=run.submission.dataset_id, manifest=outcome.get("manifest") or []
        )
        if withdrawn is not None:
            results.append(withdrawn)
    CheckResult.objects.bulk_create(
        [
            CheckResult(
                run=run,
                name=r["name"],
                status=r["status"],
                summary=provider_safe(r["summary"])[:500],
                details=provider_safe(r.get("details") or {}),
                staff_details=r.get("internal") or {},
            )
            for r in results
        ]
    )
    run.status = _overall([r["status"] for r in results])
    run.verified_sha256 = sha if outcome.get("integrity_ok") else ""
    run.verified_size = outcome.get("size")
    run.manifest = outcome.get("manifest", [])
    run.statistics = outcome.get("statistics", {})
    run.croissant_facts = outcome.get("croissant", {})
    run.finished_at = timezone.now()
    run.last_error = ""
    run.save()
    task_enqueue_on_commit(CONCLUDE_TASK, run.submission_id)
    return run


@transaction.atomic
def check_run_fail(*, run_pk: int, error: str) -> CheckRun:
    """After the retries are spent: record a clear `error` finding and conclude."""
    run = CheckRun.objects.select_for_update().get(pk=run_pk)
    if run.status in CheckRun.FINAL:
        return run
    CheckResult.objects.create(
        run=run,
        name="inspection",
        status=CheckResult.Status.ERROR,
        # The error names storage or scanner addresses: staff read it, the provider does not.
        summary="The checks could not run (storage or an inspection service was unavailable); "
        "staff can run them again.",
        details={},
        staff_details={"error": error[:2000]},
    )
    run.status = R.ERROR
    run.last_error = error[:2000]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "last_error", "finished_at", "updated_at"])
    task_enqueue_on_commit(CONCLUDE_TASK, run.submission_id)
    return run


@transaction.atomic
def submission_checks_conclude(*, submission_pk: int) -> Submission:
    """When every run of a checking submission is final, decide where it goes. Idempotent."""
    submission = Submission.objects.select_for_update().get(pk=submission_pk)
    if submission.status != S.CHECKING:
        return submission
    runs = list(
        submission.check_runs.filter(
            upload_id__in=[u for u in (submission.file_upload_id, submission.sample_upload_id) if u]
        )
    )
    if not runs or any(r.status not in CheckRun.FINAL for r in runs):
        return submission
    failed = [r for r in runs if r.status == R.FAILED]
    if failed:
        reasons = list(
            CheckResult.objects.filter(run__in=failed, status=CheckResult.Status.FAIL)
            .order_by("run_id", "pk")
            .values_list("summary", flat=True)
        )
        # A published dataset whose new file fails its checks stays published as it was.
        submission.status = S.APPROVED if submission.dataset_id else S.DRAFT
        submission.review_note = "Automatic checks failed: " + " ".join(reasons)
        action = "submission.checks_failed"
    else:
        submission.status = S.IN_REVIEW
        action = "submission.in_review"
    submission.save(update_fields=["status", "review_note", "updated_at"])
    audit_record(
        actor=None,
        organization=submission.organization,
        action=action,
        obj=submission,
        data={"runs": {r.pk: r.status for r in runs}},
    )
    return submission


def check_runs_requeue_stale(*, now=None) -> int:
    """Queue again (beat, every INGESTION_SWEEP_SECONDS) a running run whose heartbeat is older
    than INGESTION_STALE_SECONDS (its worker died: killed, OOM, node lost; the broker would
    redeliver only after the ingestion visibility timeout, hours) and a queued run older than
    INGESTION_QUEUED_STALE_SECONDS (its message was lost). Safe with a live duplicate: results
    are written once, by the finishing transaction."""
    now = now or timezone.now()
    running_cutoff = now - timedelta(seconds=settings.INGESTION_STALE_SECONDS)
    queued_cutoff = now - timedelta(seconds=settings.INGESTION_QUEUED_STALE_SECONDS)
    pks = list(
        CheckRun.objects.filter(
            Q(status=R.RUNNING, updated_at__lt=running_cutoff)
            | Q(status=R.QUEUED, updated_at__lt=queued_cutoff)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:200]
    )
    for pk in pks:
        # Queued again: judged by the queued threshold until a worker claims it.
        CheckRun.objects.filter(pk=pk).update(status=R.QUEUED, updated_at=now)
        task_enqueue(CHECK_RUN_TASK, pk)
    return len(pks)


@transaction.atomic
def check_runs_rerun(*, submission: Submission, actor) -> Submission:
    """Staff: inspect again (after an `error`), discarding the previous results."""
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    if submission.status not in (S.IN_REVIEW, S.CHECKING):
        return submission
    CheckRun.objects.filter(submission=submission).delete()
    audit_record(
        actor=actor,
        organization=submission.organization,
        action="submission.checks_rerun",
        obj=submission,
    )
    checks_start(submission=submission)
    return submission
