"""JSON members: JSON Lines (every non-blank line one JSON value) and single JSON documents."""

import json

from marketplace.ingestion.limits import Limits
from marketplace.ingestion.report import Findings, MemberInfo, Status
from marketplace.ingestion.text import TextAnalyzer, fmt_rows, plural, shared_columns


class JsonlAnalyzer(TextAnalyzer):
    """Every non-blank line must be one JSON value. A block of lines is parsed at once as a JSON
    array (one C call); only a block that fails is parsed line by line to name the bad lines."""

    check_utf8 = False  # json reports invalid UTF-8 as a malformed line

    def __init__(self, member, findings, limits):
        super().__init__(member, findings, limits)
        self.records = 0
        self.bad: list[list] = []
        self.bad_count = 0
        self.blank: list[int] = []
        self.blank_count = 0
        self.keys: dict[str, list] = {}
        self.sampled = 0

    def _block(self, buf: bytes, start: int, end: int) -> None:
        block = buf[start:end] if start or end < len(buf) else buf
        first_line = self.lines + 1
        self.lines += block.count(b"\n")
        lines = block.split(b"\n")
        lines.pop()
        try:
            values = json.loads(b"[" + b",".join(lines) + b"]")
        except ValueError:
            values = None
        if values is not None and len(values) == len(lines):
            self.records += len(values)
            self._sample(values)
            return
        good = []
        for i, line in enumerate(lines):
            if not line.strip():
                self.blank_count += 1
                if len(self.blank) < self.limits.max_rows_listed:
                    self.blank.append(first_line + i)
                continue
            try:
                good.append(json.loads(line))
            except ValueError as exc:
                self.bad_count += 1
                if len(self.bad) < self.limits.max_rows_listed:
                    reason = "not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
                    self.bad.append([first_line + i, reason[:200]])
        self.records += len(good)
        self._sample(good)

    def _sample(self, values: list) -> None:
        need = self.limits.type_inference_rows - self.sampled
        if need <= 0:
            return
        for value in values[:need]:
            if isinstance(value, dict):
                for key, item in value.items():
                    if key in self.keys or len(self.keys) < 1000:
                        self.keys.setdefault(key, []).append(item)
        self.sampled += min(need, len(values))

    def _report(self) -> None:
        super()._report()
        m, path = self.member, self.member.path
        m.rows = self.records
        m.columns = shared_columns(tuple((k, _json_type(v)) for k, v in self.keys.items())) or None
        if self.bad_count:
            self.findings.add(
                Status.FAIL,
                "malformed_jsonl",
                f"{path}: {plural(self.bad_count, 'line')} not valid JSON (lines "
                f"{fmt_rows(self.bad, self.bad_count)}; first: {self.bad[0][1]})",
                member=path,
                lines=self.bad,
                count=self.bad_count,
            )
        if self.blank_count:
            self.findings.add(
                Status.WARN,
                "blank_lines",
                f"{path}: {plural(self.blank_count, 'blank line')} (lines {fmt_rows(self.blank, self.blank_count)})",
                member=path,
                lines=self.blank,
                count=self.blank_count,
            )


def _json_type(values: list) -> str:
    kinds = {type(v) for v in values if v is not None}
    if kinds == {bool}:
        return "bool"
    if kinds == {int}:
        return "integer"
    if kinds and kinds <= {int, float}:
        return "float"
    return "text"


class JsonDocumentAnalyzer:
    """A single JSON document: held (up to `json_document_max_bytes`) and parsed at the end."""

    def __init__(self, member: MemberInfo, findings: Findings, limits: Limits):
        self.member = member
        self.findings = findings
        self.cap = limits.json_document_max_bytes
        self.parts: list[bytes] = []
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size <= self.cap:
            self.parts.append(chunk)
        else:
            self.parts = []

    def finish(self) -> None:
        path = self.member.path
        if self.size > self.cap:
            self.member.extra = {"parsed": False, "reason": f"larger than {self.cap} bytes"}
            return
        data = b"".join(self.parts)
        self.parts = []
        try:
            json.loads(data)
        except ValueError as exc:
            reason = "not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
            self.findings.add(
                Status.FAIL,
                "malformed_json",
                f"{path}: not valid JSON ({reason[:200]})",
                member=path,
            )
