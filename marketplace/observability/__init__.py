"""Operating the service (issue 14): Prometheus metrics at `/metrics`, structured logs with a
request id that follows a request into the Celery tasks it enqueues and into Stripe metadata,
and the restore drill.

- `request_id`: the id of the request or task being handled (a context variable), taken from a
  sane incoming `X-Request-ID` or generated, echoed in the response.
- `logs`: the JSON and readable formatters; every record they write carries the id.
- `middleware`: one log line and the request metrics per request.
- `tasks`: Celery signals: the id travels in the task's headers; one log line and the task
  metrics per task (kept in Redis, so every worker process of every host adds to one count).
- `metrics` and `business`: the registry and the `/metrics` view; the business gauges are read
  from the database at scrape time, cached for a few seconds.
- `restore`: dump, restore into a scratch database, verify the ledger there, compare the head.
"""
