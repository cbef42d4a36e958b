"""Turns the state of a finished (or stopped) walk into the eight check results."""

import hashlib
import json
from collections import Counter

from marketplace.ingestion.gzstream import GZIP_BACKEND, SourceReader
from marketplace.ingestion.report import (
    CHECK_NAMES,
    CheckResult,
    Findings,
    InspectionReport,
    Status,
    worst,
)
from marketplace.ingestion.sniff import AUDIO_KINDS, IMAGE_KINDS, TABULAR_KINDS

_PII_LABELS = {
    "email": "e-mail address",
    "phone": "phone number",
    "payment_card": "payment card number",
    "iban": "IBAN",
    "us_ssn": "US social security number",
    "ip_address": "IP address",
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def build_report(
    run, source: SourceReader, *, declared_sha256, declared_size, pii_policy, known_member_hashes
):
    complete = run.stop is None
    stop_note = f" (incomplete: {run.stop.message})" if run.stop else ""
    archive_sha = source.hexdigest() if source.eof else None
    for m in run.members:
        m.status = run.member_status.get(m.path, Status.PASS)
    checks = [
        _integrity(source, archive_sha, declared_sha256, declared_size),
        _safety(run, source),
        _manifest(run),
        _formats(run),
        _statistics(run),
        _personal_data(run, pii_policy),
        _duplicates(run, archive_sha, known_member_hashes),
        _malware(run),
    ]
    if not complete:  # a clean result about part of the archive is not a pass
        for check in checks[2:]:
            if check.status == Status.PASS:
                check.status = Status.SKIPPED
                check.summary = f"Not completed: the inspection stopped ({run.stop.code})."
            elif check.status in (Status.WARN, Status.FAIL, Status.ERROR):
                check.summary += stop_note
    by_name = {c.name: c for c in checks}
    assert tuple(by_name) == CHECK_NAMES
    return InspectionReport(
        status=worst(c.status for c in checks),
        archive_sha256=archive_sha,
        archive_size=source.count,
        uncompressed_size=run.archive.uncompressed if run.archive else 0,
        complete=complete,
        stop_reason=run.stop.code if run.stop else None,
        checks=by_name,
        members=run.members,
    )


def _integrity(source, sha, declared_sha, declared_size) -> CheckResult:
    details = {
        "sha256": sha,
        "declared_sha256": declared_sha,
        "size": source.count,
        "declared_size": declared_size,
        "complete": source.eof,
    }
    problems = []
    if declared_size is not None and (
        source.count > declared_size or (source.eof and source.count != declared_size)
    ):
        problems.append(
            f"size {source.count}{'+' if not source.eof else ''} bytes, declared {declared_size}"
        )
    if sha is not None and declared_sha is not None and sha != declared_sha.strip().lower():
        problems.append(f"SHA-256 {sha} does not match the declared {declared_sha}")
    if problems:
        text = "; ".join(problems)
        return CheckResult("integrity", Status.FAIL, text[0].upper() + text[1:] + ".", details)
    if sha is None:
        return CheckResult(
            "integrity",
            Status.SKIPPED,
            f"Not verified: reading stopped after {source.count} bytes (archive rejected).",
            details,
        )
    what = (
        "matches the declared checksum" if declared_sha else "computed (no checksum was declared)"
    )
    return CheckResult("integrity", Status.PASS, f"SHA-256 {what}; {source.count} bytes.", details)


def _safety(run, source) -> CheckResult:
    f: Findings = run.safety
    archive = run.archive
    uncompressed = archive.uncompressed if archive else 0
    if run.stop is not None:
        details = dict(run.stop.details)
        details.setdefault("compressed_bytes_read", source.count)
        details.setdefault("uncompressed_bytes_read", uncompressed)
        if run.current:
            details["member"] = run.current
        f.add(Status.FAIL, run.stop.code, run.stop.message, **details)
    elif not run.end_marker:
        f.add(Status.WARN, "no_end_marker", "the tar archive has no end-of-archive marker")
    if run.trailing_nonzero:
        f.add(
            Status.WARN,
            "data_after_end",
            f"{run.trailing_nonzero} non-zero bytes after the end-of-archive marker",
        )
    details = {
        "entries": run.entries,
        "files": len(run.members),
        "directories": run.counts["directory"],
        "symlinks": run.counts["symlink"],
        "compressed_bytes_read": source.count,
        "uncompressed_bytes": uncompressed,
        "ratio": round(uncompressed / source.count, 2) if source.count else None,
        "stopped": run.stop is not None,
        "stop_reason": run.stop.code if run.stop else None,
        "gzip_backend": GZIP_BACKEND,
        **f.as_details(),
    }
    if f:
        summary = f"{_plural(sum(f.by_code.values()), 'problem')}: {f.first_message()}"
        if run.stop is not None and run.stop.code != f.items[0]["code"]:
            summary += f"; stopped: {run.stop.message}"
        return CheckResult("archive_safety", f.status, summary, details)
    return CheckResult(
        "archive_safety",
        Status.PASS,
        f"{run.entries} {'entry' if run.entries == 1 else 'entries'}, gzip+tar, no unsafe paths, links or "
        f"special files; expands {details['ratio']}:1.",
        details,
    )


def _manifest(run) -> CheckResult:
    members = run.members
    canonical = json.dumps([[m.path, m.size, m.sha256] for m in members], separators=(",", ":"))
    details = {
        "members": len(members),
        "total_bytes": sum(m.size for m in members),
        "manifest_sha256": hashlib.sha256(canonical.encode()).hexdigest(),
    }
    summary = (
        f"{_plural(len(members), 'file')}, {details['total_bytes']} bytes, each with its SHA-256."
    )
    return CheckResult("manifest", Status.PASS, summary, details)


def _formats(run) -> CheckResult:
    f: Findings = run.formats
    kinds = Counter(m.kind for m in run.members)
    details = {"members_by_kind": dict(kinds), **f.as_details()}
    listing = ", ".join(f"{n} {k}" for k, n in kinds.most_common()) or "no files"
    if f:
        summary = f"{_plural(sum(f.by_code.values()), 'problem')} in {listing}: {f.first_message()}"
        return CheckResult("formats", f.status, summary, details)
    return CheckResult("formats", Status.PASS, f"All members read by content: {listing}.", details)


def _statistics(run) -> CheckResult:
    by_kind, bytes_by_kind = Counter(), Counter()
    rows = 0
    audio_seconds = 0.0
    audio_files = 0
    columns = {}
    images = []
    for m in run.members:
        by_kind[m.kind] += 1
        bytes_by_kind[m.kind] += m.size
        if m.rows is not None and (m.kind in TABULAR_KINDS or m.kind == "jsonl"):
            rows += m.rows
        if m.kind in AUDIO_KINDS and m.duration_seconds is not None:
            audio_seconds += m.duration_seconds
            audio_files += 1
        if m.columns and len(columns) < run.limits.max_column_members_in_statistics:
            columns[m.path] = [{"name": c.name, "type": c.type} for c in m.columns]
        if m.kind in IMAGE_KINDS and m.width is not None:
            images.append((m.width, m.height))
    details = {
        "files_by_type": dict(by_kind),
        "bytes_by_type": dict(bytes_by_kind),
        "total_rows": rows,
        "audio_files": audio_files,
        "audio_seconds": round(audio_seconds, 3),
        "audio_hours": round(audio_seconds / 3600, 4),
        "columns": columns,
        "columns_members_omitted": sum(1 for m in run.members if m.columns) - len(columns),
    }
    if images:
        details["images"] = {
            "count": len(images),
            "min_width": min(w for w, _ in images),
            "max_width": max(w for w, _ in images),
            "min_height": min(h for _, h in images),
            "max_height": max(h for _, h in images),
        }
    summary = (
        f"{_plural(len(run.members), 'file')}; {_plural(rows, 'row')}; "
        f"{details['audio_hours']} hours of audio in {_plural(audio_files, 'file')}."
    )
    return CheckResult("statistics", Status.PASS, summary, details)


def _personal_data(run, policy: str) -> CheckResult:
    counter = run.pii
    counts = {k: counter.counts.get(k, 0) for k in _PII_LABELS}
    complete = run.pii_scanned >= run.pii_text_bytes
    details = {
        "policy": policy,
        "counts": counts,
        "members_with": {k: counter.members.get(k, 0) for k in _PII_LABELS},
        "examples": {k: v for k, v in counter.examples.items() if v},
        "scanned_bytes": run.pii_scanned,
        "text_bytes": run.pii_text_bytes,
        "sampled_members": run.pii_sampled_members,
        "complete_coverage": complete,
        **run.pii_findings.as_details(),
    }
    coverage = (
        "" if complete else f" (sampled {run.pii_scanned} of {run.pii_text_bytes} text bytes)"
    )
    found = [f"{_plural(n, _PII_LABELS[k])}" for k, n in counts.items() if n]
    if found:
        status = Status.FAIL if policy == "fail" else Status.WARN
        status = worst((status, run.pii_findings.status))
        why = "; the datasheet says the data holds none" if policy == "fail" else ""
        return CheckResult(
            "personal_data",
            status,
            f"Personal data found: {', '.join(found)}{why}{coverage}.",
            details,
        )
    if run.pii_findings:
        return CheckResult(
            "personal_data", run.pii_findings.status, run.pii_findings.first_message(), details
        )
    return CheckResult(
        "personal_data",
        Status.PASS,
        f"No personal data found in {run.pii_text_bytes} bytes of text{coverage}.",
        details,
    )


def _known(members, known) -> set[str]:
    digests = sorted({m.sha256 for m in members if m.size})
    if known is None or not digests:
        return set()
    if hasattr(known, "__contains__") and not callable(known):
        return {d for d in digests if d in known}
    return set(known(digests)) & set(digests)


def _duplicates(run, archive_sha, known_member_hashes) -> CheckResult:
    members = [m for m in run.members if m.size]  # empty files are identical by nature
    known = _known(members, known_member_hashes)
    overlap = [m for m in members if m.sha256 in known]
    total_bytes = sum(m.size for m in members)
    groups: dict[str, list[str]] = {}
    for m in members:
        groups.setdefault(m.sha256, []).append(m.path)
    repeated = [paths for paths in groups.values() if len(paths) > 1]
    percent = round(100 * len(overlap) / len(members), 2) if members else 0.0
    details = {
        "archive_sha256": archive_sha,
        "members": len(members),
        "known_members": len(overlap) if known_member_hashes is not None else None,
        "overlap_percent": percent if known_member_hashes is not None else None,
        "overlap_bytes_percent": round(100 * sum(m.size for m in overlap) / total_bytes, 2)
        if known_member_hashes is not None and total_bytes
        else None,
        "overlap_examples": [m.path for m in overlap[:10]],
        "identical_member_groups": len(repeated),
        "identical_member_examples": [paths[:5] for paths in repeated[:10]],
    }
    threshold = run.limits.duplicate_overlap_warn_percent
    status = (
        Status.WARN if threshold is not None and known and percent >= threshold else Status.PASS
    )
    within = f"; {_plural(len(repeated), 'group')} of identical members inside" if repeated else ""
    if known_member_hashes is None:
        summary = f"No published members to compare with{within}."
    else:
        summary = (
            f"{percent}% of members ({len(overlap)} of {len(members)}) already published{within}."
        )
    return CheckResult("duplicates", status, summary, details)


def _malware(run) -> CheckResult:
    if run.clamd is None:
        return CheckResult(
            "malware", Status.SKIPPED, "Not scanned: no clamd configured.", {"scanned": 0}
        )
    f: Findings = run.malware
    details = {
        "scanned_clean": run.scanned_clean,
        "partially_scanned": run.partially_scanned_count,
        "partially_scanned_members": run.partially_scanned,
        "max_stream_bytes": run.clamd.max_stream_bytes,
        **f.as_details(),
    }
    # The scanner's address and its raw error are for staff: never in what a provider reads.
    internal = {"clamd": run.clamd.url, "clamd_error": run.clamd_error}
    partial = (
        f"; {_plural(run.partially_scanned_count, 'member')} scanned on their first "
        f"{run.clamd.max_stream_bytes} bytes only"
        if run.partially_scanned_count
        else ""
    )
    infected = f.by_code.get("malware", 0)
    if infected:
        first = next((i["message"] for i in f.items if i["code"] == "malware"), "")
        return CheckResult(
            "malware",
            Status.FAIL,
            f"{_plural(infected, 'infected member')}: {first}{partial}",
            details,
            internal,
        )
    if run.clamd_error:
        return CheckResult(
            "malware",
            Status.ERROR,
            "The malware scanner failed, so the archive was not fully scanned; staff can run "
            "the checks again.",
            details,
            internal,
        )
    if run.partially_scanned_count:
        # A member scanned on its first bytes only was not shown to be clean: not a pass.
        return CheckResult(
            "malware",
            Status.WARN,
            f"Scanned only in part: nothing found in {_plural(run.scanned_clean, 'member')}"
            f"{partial}.",
            details,
            internal,
        )
    return CheckResult(
        "malware",
        Status.PASS,
        f"{_plural(run.scanned_clean, 'member')} scanned by clamd, nothing found.",
        details,
        internal,
    )
