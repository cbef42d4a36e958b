"""Celery signals: the request id rides in the task message's headers, and every task writes one
log line and adds to the task metrics (Redis, shared by every worker; see metrics.py).

Connected from MarketplaceConfig.ready(), so the web (which publishes) and the workers (which
run) both have them. A task published by a request carries that request's id; a task published
by another task carries that task's; a task of beat's gets its own id (its task id)."""

from __future__ import annotations

import logging
import time

import redis
from celery.signals import before_task_publish, task_postrun, task_prerun, task_retry

from marketplace.observability.logs import TASK_LOGGER
from marketplace.observability.metrics import task_observe
from marketplace.observability.request_id import (
    request_id_get,
    request_id_reset,
    request_id_sanitize,
    request_id_set,
)

logger = logging.getLogger(TASK_LOGGER)
HEADER = "request_id"

# task id -> (start, context token); one entry per task running in this process.
_running: dict[str, tuple[float, object]] = {}

_STATES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}


@before_task_publish.connect(weak=False)
def _publish(sender=None, headers=None, **kwargs):
    request_id = request_id_get()
    if headers is not None and request_id and HEADER not in headers:
        headers[HEADER] = request_id


def _queue(task) -> str:
    request = task.request
    if request.is_eager:
        return "eager"
    info = request.delivery_info or {}
    return info.get("routing_key") or info.get("exchange") or "unknown"


@task_prerun.connect(weak=False)
def _prerun(sender=None, task_id=None, task=None, **kwargs):
    incoming = request_id_sanitize(getattr(task.request, HEADER, None))
    # Eager tasks run inside the publishing request: they keep its id.
    request_id = incoming or request_id_get() or task_id
    _running[task_id] = (time.perf_counter(), request_id_set(request_id))


def _finish(task_id, task, state: str, exc=None) -> None:
    started, token = _running.pop(task_id, (None, None))
    seconds = time.perf_counter() - started if started is not None else None
    queue = _queue(task)
    try:
        task_observe(queue=queue, task=task.name, state=state, seconds=seconds)
    except redis.RedisError:
        logger.warning("task metrics not recorded (Redis down)")
    fields = {
        "task": task.name,
        "task_id": task_id,
        "queue": queue,
        "state": state,
        "duration_ms": round(seconds * 1000, 2) if seconds is not None else None,
        "request_id": request_id_get(),
    }
    if exc is not None:
        fields["error"] = f"{type(exc).__name__}: {exc}"[:500]
    logger.log(
        logging.ERROR if state == "failed" else logging.INFO,
        "task %s %s",
        task.name,
        state,
        extra={"fields": fields},
    )
    if token is not None:
        try:
            request_id_reset(token)
        except ValueError:  # reset from another context (should not happen): leave it
            pass


@task_postrun.connect(weak=False)
def _postrun(sender=None, task_id=None, task=None, state=None, retval=None, **kwargs):
    if state == "RETRY":  # task_retry already wrote it
        return
    exc = retval if isinstance(retval, BaseException) else None
    _finish(task_id, task, _STATES.get(state, (state or "unknown").lower()), exc)


@task_retry.connect(weak=False)
def _retry(sender=None, request=None, reason=None, **kwargs):
    task_id = getattr(request, "id", None)
    if task_id in _running:
        _finish(task_id, sender, "retried", reason if isinstance(reason, BaseException) else None)
