"""What an inspection returns: check results, the member manifest and dataset-card facts.

Everything in `CheckResult.details` and `InspectionReport.to_dict()` is JSON-serialisable (str,
int, float, bool, None, list, dict) so it can be stored in a JSONField as is."""

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

CHECK_NAMES = (
    "integrity",
    "archive_safety",
    "manifest",
    "formats",
    "statistics",
    "personal_data",
    "duplicates",
    "malware",
)


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"
    """The check did not run (clamd not configured) or could not finish because the inspection
    stopped early; never makes the overall status worse."""


# How bad a status is, for `worst()`: a fail is definitive about the data, an error only says
# that something could not be determined.
_RANK = {Status.SKIPPED: 0, Status.PASS: 1, Status.WARN: 2, Status.ERROR: 3, Status.FAIL: 4}


def worst(statuses, default: Status = Status.PASS) -> Status:
    result = default
    for status in statuses:
        if _RANK[status] > _RANK[result]:
            result = status
    return result


class InputStreamError(Exception):
    """Reading the archive's own byte stream failed (storage down, connection reset, short
    read). Never a verdict about the archive: the caller should retry the inspection."""


@dataclass(slots=True)
class Column:
    name: str
    type: str
    """One of "text", "integer", "float", "bool"."""
    source_type: str | None = None
    """Parquet physical/logical type (e.g. "INT64", "BYTE_ARRAY/STRING", "INT32/DATE")."""

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "source_type": self.source_type}


@dataclass(slots=True)
class MemberInfo:
    """A regular file of the archive. Links, directories and special files are not members."""

    path: str
    size: int
    sha256: str = ""
    kind: str = "binary"
    """Detected by content: tsv csv jsonl json text parquet wav mp3 flac ogg png jpeg gif webp
    binary empty."""
    mime: str = "application/octet-stream"
    status: Status = Status.PASS
    """Worst finding about this member across all checks."""
    rows: int | None = None
    """Data rows (header excluded) of tsv/csv, records of jsonl, rows of parquet."""
    columns: list[Column] | None = None
    has_header: bool | None = None
    duration_seconds: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    width: int | None = None
    height: int | None = None
    extra: dict | None = None

    def to_dict(self) -> dict:
        d = {"path": self.path, "size": self.size, "sha256": self.sha256, "kind": self.kind}
        d["mime"] = self.mime
        d["status"] = str(self.status)
        for name in ("rows", "has_header", "duration_seconds", "sample_rate", "channels"):
            value = getattr(self, name)
            if value is not None:
                d[name] = value
        if self.width is not None:
            d["width"], d["height"] = self.width, self.height
        if self.columns is not None:
            d["columns"] = [c.to_dict() for c in self.columns]
        if self.extra:
            d["extra"] = self.extra
        return d


@dataclass(slots=True)
class CheckResult:
    name: str
    status: Status
    summary: str
    details: dict = field(default_factory=dict)
    """What the provider may read: never an internal address or another party's data."""
    internal: dict = field(default_factory=dict)
    """For staff only (the scanner's address and its error): stored apart from `details`."""

    def to_dict(self) -> dict:
        d = {
            "name": self.name,
            "status": str(self.status),
            "summary": self.summary,
            "details": self.details,
        }
        if self.internal:
            d["internal"] = self.internal
        return d


class Findings:
    """Per-check findings: the first `cap` are kept in full, all are counted by code."""

    def __init__(self, cap: int, member_status: dict | None = None):
        self.cap = cap
        self.items: list[dict] = []
        self.omitted = 0
        self.by_code: Counter = Counter()
        self.status = Status.PASS
        self.member_status = member_status if member_status is not None else {}
        """Worst severity per member path, shared by the checks of one inspection."""

    def add(self, severity: Status, code: str, message: str, *, member: str | None = None, **extra):
        self.by_code[code] += 1
        self.status = worst((self.status, severity))
        if member is not None:
            self.member_status[member] = worst(
                (self.member_status.get(member, Status.PASS), severity)
            )
        if len(self.items) >= self.cap:
            self.omitted += 1
            return
        item = {"severity": str(severity), "code": code, "message": message}
        if member is not None:
            item["member"] = member
        item.update(extra)
        self.items.append(item)

    def __bool__(self) -> bool:
        return bool(self.by_code)

    def first_message(self) -> str:
        return self.items[0]["message"] if self.items else ""

    def as_details(self) -> dict:
        return {
            "findings": self.items,
            "findings_omitted": self.omitted,
            "finding_counts": dict(self.by_code),
        }


@dataclass
class InspectionReport:
    status: Status
    """Worst status over all checks: fail > error > warn > pass (skipped never counts)."""
    archive_sha256: str | None
    """SHA-256 (hex) of the stored bytes; None when reading stopped before the end."""
    archive_size: int
    """Stored (compressed) bytes read."""
    uncompressed_size: int
    """Decompressed bytes read (tar headers and padding included)."""
    complete: bool
    """The whole archive was read and walked."""
    stop_reason: str | None
    """Finding code that stopped the walk early (e.g. "ratio_exceeded", "not_gzip")."""
    checks: dict[str, CheckResult]
    """By name, in CHECK_NAMES order, always all eight."""
    members: list[MemberInfo]
    """Regular files in archive order."""

    def check(self, name: str) -> CheckResult:
        return self.checks[name]

    @property
    def manifest(self) -> list[list]:
        """[[path, size, sha256 hex], ...] for every regular file, in archive order."""
        return [[m.path, m.size, m.sha256] for m in self.members]

    def to_dict(self, *, include_members: bool = True) -> dict:
        d = {
            "status": str(self.status),
            "archive_sha256": self.archive_sha256,
            "archive_size": self.archive_size,
            "uncompressed_size": self.uncompressed_size,
            "complete": self.complete,
            "stop_reason": self.stop_reason,
            "checks": [c.to_dict() for c in self.checks.values()],
        }
        if include_members:
            d["members"] = [m.to_dict() for m in self.members]
        return d
