"""Prometheus metrics and the `/metrics` view (bearer token METRICS_TOKEN; 404 when unset).

Where each family comes from, and why (several web processes, several worker processes):

- Requests (`dc_http_requests_total`, `dc_http_request_duration_seconds`): counted in the web
  process that served them. With PROMETHEUS_MULTIPROC_DIR set (gunicorn with several workers) the
  values live in memory-mapped files in that directory, one per process, and any worker's
  `/metrics` answers the sum over all of them (prometheus_client's multiprocess mode). Each web
  pod (host) is one scrape target; the directory must be emptied when the pod starts.
- Celery tasks (`dc_celery_tasks_total`, `dc_celery_task_duration_seconds`): workers serve no
  HTTP and run on other hosts, so a per-host directory would never reach a scrape. Each worker
  process adds its task's outcome and duration to one Redis hash (one pipelined round trip per
  task, `tasks.py`), and every web process exports the cluster-wide totals from it. The counts
  survive worker restarts; they are the same on every web pod (aggregate with `max`, not `sum`).
- Business gauges (`business.py`): read from the database at scrape time, cached a few seconds.
"""

from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

from marketplace.observability.business import BusinessCollector
from marketplace.observability.store import redis_client

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TASK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
REQUEST_LABELS = ("view", "method", "status")

# Not registered in the default registry: exposition builds its own (below), so the same
# objects serve the single-process and the multiprocess case.
REQUESTS = Counter(
    "dc_http_requests",
    "HTTP requests served, by route name, method and status class.",
    REQUEST_LABELS,
    registry=None,
)
REQUEST_SECONDS = Histogram(
    "dc_http_request_duration_seconds",
    "Time to answer an HTTP request, by route name, method and status class.",
    REQUEST_LABELS,
    buckets=REQUEST_BUCKETS,
    registry=None,
)


# Any other method (a client can send any token) is "other": a label must stay bounded.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_observe(*, view: str, method: str, status: int, seconds: float) -> None:
    labels = (view, method if method in METHODS else "other", f"{status // 100}xx")
    REQUESTS.labels(*labels).inc()
    REQUEST_SECONDS.labels(*labels).observe(seconds)


# --- Celery task metrics, kept in Redis ------------------------------------------------------
TASKS_KEY = "observability:celery-tasks"
_SEP = "|"


def task_observe(*, queue: str, task: str, state: str, seconds: float | None) -> None:
    """Add one finished task (state: succeeded, failed, retried) to the shared counts."""
    pipe = redis_client().pipeline(transaction=False)
    pipe.hincrby(TASKS_KEY, _SEP.join(("n", queue, task, state)), 1)
    if seconds is not None:
        bucket = next((str(b) for b in TASK_BUCKETS if seconds <= b), "+Inf")
        pipe.hincrby(TASKS_KEY, _SEP.join(("b", queue, bucket)), 1)
        pipe.hincrbyfloat(TASKS_KEY, _SEP.join(("s", queue)), seconds)
    pipe.execute()


class TaskCollector:
    """The task counts and durations of every worker, read from the Redis hash."""

    def collect(self):
        raw = redis_client().hgetall(TASKS_KEY)
        counts = CounterMetricFamily(
            "dc_celery_tasks",
            "Celery tasks finished, by queue, task name and state (succeeded, failed, retried).",
            labels=("queue", "task", "state"),
        )
        buckets: dict[str, dict[str, int]] = {}
        sums: dict[str, float] = {}
        for field, value in sorted(raw.items()):
            kind, *labels = field.decode().split(_SEP)
            if kind == "n" and len(labels) == 3:
                counts.add_metric(labels, int(value))
            elif kind == "b" and len(labels) == 2:
                buckets.setdefault(labels[0], {})[labels[1]] = int(value)
            elif kind == "s" and len(labels) == 1:
                sums[labels[0]] = float(value)
        seconds = HistogramMetricFamily(
            "dc_celery_task_duration_seconds",
            "Time a Celery task ran (prerun to postrun), by queue.",
            labels=("queue",),
        )
        for queue, per_bucket in sorted(buckets.items()):
            cumulative, running = [], 0
            for bound in (*map(str, TASK_BUCKETS), "+Inf"):
                running += per_bucket.get(bound, 0)
                cumulative.append((bound, running))
            seconds.add_metric([queue], cumulative, sums.get(queue, 0.0))
        yield counts
        yield seconds


def export_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(REQUEST_SECONDS)
    registry.register(TaskCollector())
    registry.register(BusinessCollector())
    return registry


def _token_ok(request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.METRICS_TOKEN.encode()
    )


@never_cache
@require_GET
def metrics_view(request):
    """Prometheus exposition. Without METRICS_TOKEN the endpoint does not exist (404); with it,
    the scraper sends `Authorization: Bearer <token>` (401 otherwise)."""
    if not settings.METRICS_TOKEN:
        raise Http404
    if not _token_ok(request):
        response = JsonResponse(
            {"message": "A valid metrics token is required.", "error": "not_authenticated"},
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(export_registry()), content_type=CONTENT_TYPE_LATEST)
