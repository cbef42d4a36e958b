"""Progress of finance work that staff start from the admin: executing a payout run, a
reconciliation with Stripe. The admin never calls Stripe in its own request: it records a job
(`queued`), enqueues the Celery task with the job's id after commit and shows the job's page;
the task marks it `running`, then `done` with its counts or `failed` with the error.

Jobs live in the cache (Redis) for JOB_SECONDS: they say how a task went, the money itself is
in the database (a run's lines and their states are read live by the page; a reconciliation
stores its report). A job the cache lost shows as unknown, never as done."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

JOB_SECONDS = 24 * 3600
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
PAYOUT_RUN_EXECUTE, RECONCILIATION = "payout_run_execute", "reconciliation"


@dataclass
class Job:
    id: str
    kind: str  # PAYOUT_RUN_EXECUTE | RECONCILIATION
    subject: int | None  # the payout run's id; None for a reconciliation
    started_by: int | None  # the staff user's id
    state: str = QUEUED
    created_at: str = ""
    updated_at: str = ""
    result: dict = field(default_factory=dict)  # the task's counts once done
    error: str = ""

    @property
    def finished(self) -> bool:
        return self.state in (DONE, FAILED)


def _key(job_id: str) -> str:
    return f"finance-job:{job_id}"


def _store(job: Job) -> Job:
    job.updated_at = timezone.now().isoformat()
    cache.set(_key(job.id), asdict(job), timeout=JOB_SECONDS)
    return job


def job_create(*, kind: str, subject: int | None, user) -> Job:
    """A new job, `queued`: enqueue its task after this, passing `job.id`."""
    now = timezone.now().isoformat()
    job = Job(uuid.uuid4().hex, kind, subject, getattr(user, "pk", None), created_at=now)
    return _store(job)


def job_get(job_id: str) -> Job | None:
    """The job, or None when the id is unknown (or the cache lost it)."""
    try:
        data = cache.get(_key(job_id))
    except Exception:  # noqa: BLE001 - cache down: the page says "unknown", the money is safe
        logger.warning("finance job cache unavailable", exc_info=True)
        return None
    return Job(**data) if data else None


def _update(job_id: str, **changes) -> None:
    try:
        job = job_get(job_id)
        if job is None:
            return
        for name, value in changes.items():
            setattr(job, name, value)
        _store(job)
    except Exception:  # noqa: BLE001 - progress is a report: it never fails the task itself
        logger.warning("could not record progress of job %s", job_id, exc_info=True)


@contextmanager
def job_running(job_id: str | None) -> Iterator[dict]:
    """Around a task's work: the job is `running`, then `done` with the dict the block filled in,
    or `failed` with the exception (re-raised). Without a job id (beat) it does nothing."""
    result: dict = {}
    if job_id:
        _update(job_id, state=RUNNING)
    try:
        yield result
    except BaseException as exc:
        if job_id:
            _update(job_id, state=FAILED, error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    if job_id:
        _update(job_id, state=DONE, result=result)
