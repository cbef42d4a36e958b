"""Streaming inspection of uploaded .tar.gz archives: integrity, archive safety, manifest,
formats by content, dataset statistics, personal data, duplicates and malware (clamd).

Pure Python over a readable byte stream: no Django, no Celery. See inspect.inspect_archive."""

from marketplace.ingestion.clamd import ClamdClient, ClamdError, ScanResult
from marketplace.ingestion.inspect import inspect_archive
from marketplace.ingestion.limits import Limits
from marketplace.ingestion.report import (
    CHECK_NAMES,
    CheckResult,
    Column,
    InputStreamError,
    InspectionReport,
    MemberInfo,
    Status,
)

__all__ = [
    "CHECK_NAMES",
    "CheckResult",
    "ClamdClient",
    "ClamdError",
    "Column",
    "InputStreamError",
    "InspectionReport",
    "Limits",
    "MemberInfo",
    "ScanResult",
    "Status",
    "inspect_archive",
]
