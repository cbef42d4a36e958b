"""Log formatting: JSON lines in production (LOG_FORMAT=json), readable lines in development.

Every record gets the id of the request or task this thread handles. The request and task lines
carry their fields as `extra={"fields": {...}}`; the JSON formatter writes them as top-level
keys, the readable one as `key=value` after the message."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from marketplace.observability.request_id import request_id_get

REQUEST_LOGGER = "datacollective.request"
TASK_LOGGER = "datacollective.task"


def _request_id(record: logging.LogRecord) -> str | None:
    return getattr(record, "request_id", None) or request_id_get()


def _fields(record: logging.LogRecord) -> dict:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, dict) else {}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and the fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id(record),
        }
        line.update(_fields(record))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


class ReadableFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ... [request id]` for a terminal."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s: %(message)s")
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items() if v is not None)
        if extra:
            text = f"{text} {extra}"
        request_id = _request_id(record)
        if request_id and "request_id" not in _fields(record):
            text = f"{text} [{request_id}]"
        return text
