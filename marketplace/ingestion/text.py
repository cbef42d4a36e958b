"""Streaming checks of text members: UTF-8 validity, TSV/CSV column consistency and header,
JSON Lines validity, single JSON documents. Data arrives in blocks; only whole lines are looked
at, with at most one partial line (capped by `Limits.max_line_bytes`) carried between blocks."""

import codecs
import csv
import functools
import io
import re
from itertools import repeat

from marketplace.ingestion.limits import Limits
from marketplace.ingestion.report import Column, Findings, MemberInfo, Status
from marketplace.ingestion.sniff import csv_delimiter

_INT = re.compile(r"[+-]?\d+")
_BOOL = frozenset({"true", "false"})
_IDENT = re.compile(r"[A-Za-z_][\w .\-/()\[\]]{0,63}")
_BOM = b"\xef\xbb\xbf"


def fmt_rows(rows: list, total: int) -> str:
    shown = ", ".join(str(r[0] if isinstance(r, list | tuple) else r) for r in rows)
    return shown + (", …" if total > len(rows) else "")


@functools.lru_cache(maxsize=4096)
def shared_columns(spec: tuple[tuple[str, str], ...]) -> list[Column]:
    """One list for all members with the same columns (sharded datasets repeat them a million
    times): the report's memory stays proportional to the distinct schemas. Do not mutate."""
    return [Column(name=name, type=kind) for name, kind in spec]


@functools.cache
def _skeleton_delete(delimiter: int) -> bytes:
    """Every byte but the delimiter and the newline: what bytes.translate() deletes."""
    return bytes(c for c in range(256) if c not in (delimiter, 10))


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def infer_type(values) -> str:
    """Narrowest of bool, integer, float, text that fits every non-empty value."""
    kinds = {"bool", "integer", "float"}
    seen = False
    for value in values:
        if not value:
            continue
        seen = True
        if "bool" in kinds and value.lower() not in _BOOL:
            kinds.discard("bool")
        if "integer" in kinds and not _INT.fullmatch(value):
            kinds.discard("integer")
        if "float" in kinds:
            try:
                float(value)
            except ValueError:
                kinds.discard("float")
        if not kinds:
            return "text"
    if not seen:  # an all-empty column says nothing: text
        return "text"
    for kind in ("bool", "integer", "float"):
        if kind in kinds:
            return kind
    return "text"


class TextAnalyzer:
    """Plain text: UTF-8 validity and line count. Subclasses look at the lines too."""

    check_utf8 = True

    def __init__(self, member: MemberInfo, findings: Findings, limits: Limits):
        self.member = member
        self.findings = findings
        self.limits = limits
        self.lines = 0  # complete lines handed to _block so far
        self.bytes_seen = 0
        self.listeners: list = []
        """Called as listener(buf, start, end, first_line) with every range of whole lines."""
        self._carry = b""
        self._skipping = False
        self._started = False
        self._head = b""
        self.bad_utf8: list[int] = []
        self.bad_utf8_count = 0
        self.bad_utf8_exact = True
        self.long_lines: list[int] = []

    # --- line assembly: ranges of the caller's chunk, copied only around a chunk boundary ---
    def feed(self, chunk: bytes) -> None:
        start = 0
        if not self._started:
            chunk = self._head + chunk
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._head = chunk  # maybe a byte-order mark cut between chunks
                return
            self._started, self._head = True, b""
            if chunk.startswith(_BOM):
                start = 3
        if self._skipping:
            i = chunk.find(b"\n", start)
            if i < 0:
                return
            start = i + 1
            self._skipping = False
            self.lines += 1
        if self._carry:
            k = self._first_cut(chunk, start)
            if k < 0:
                self._hold(self._carry + chunk[start:])
                return
            joined = self._carry + chunk[start:k]
            self._carry = b""
            self._emit(joined, 0, len(joined))
            start = k
        cut = max(self._cut(chunk, start), start)
        if cut > start:
            self._emit(chunk, start, cut)
        if cut < len(chunk):
            self._hold(chunk[cut:])

    def _first_cut(self, chunk: bytes, start: int) -> int:
        """End of the record the carried bytes belong to, or -1 when not in this chunk."""
        i = chunk.find(b"\n", start)
        return i + 1 if i >= 0 else -1

    def _cut(self, chunk: bytes, start: int) -> int:
        """End of the last whole record in chunk[start:]."""
        return chunk.rfind(b"\n", start) + 1

    def _hold(self, data: bytes) -> None:
        if len(data) > self.limits.max_line_bytes:
            self.long_lines.append(self.lines + 1)
            self._carry = b""
            self._skipping = True
        else:
            self._carry = data

    def _emit(self, buf: bytes, start: int, end: int) -> None:
        first_line = self.lines + 1
        self.bytes_seen += end - start
        self._block(buf, start, end)
        for listener in self.listeners:
            listener(buf, start, end, first_line)

    def finish(self) -> None:
        if self._head:
            self._started = True
            self._hold(self._head)
        if self._carry:
            block = self._carry + b"\n"
            self._carry = b""
            self._emit(block, 0, len(block))
        elif self._skipping:
            self.lines += 1
        self._report()

    # --- per range of whole lines ---
    def _block(self, buf: bytes, start: int, end: int) -> None:
        if self.check_utf8:
            self._utf8(buf, start, end)
        self.lines += buf.count(b"\n", start, end)

    def _utf8(self, buf: bytes, start: int, end: int) -> None:
        if buf.isascii():
            return
        try:
            codecs.utf_8_decode(memoryview(buf)[start:end], "strict", True)
            return
        except UnicodeDecodeError:
            pass
        if len(self.bad_utf8) >= self.limits.max_rows_listed:
            self.bad_utf8_exact = False
            self.bad_utf8_count += 1  # at least one more line in this block
            return
        for i, line in enumerate(buf[start:end].split(b"\n")):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                self.bad_utf8_count += 1
                if len(self.bad_utf8) < self.limits.max_rows_listed:
                    self.bad_utf8.append(self.lines + i + 1)

    def _report(self) -> None:
        path = self.member.path
        if self.bad_utf8_count:
            count = f"{self.bad_utf8_count}{'' if self.bad_utf8_exact else '+'}"
            self.findings.add(
                Status.FAIL,
                "not_utf8",
                f"{path}: not valid UTF-8 ({count} line{'' if count == '1' else 's'}, at lines "
                f"{fmt_rows(self.bad_utf8, self.bad_utf8_count)})",
                member=path,
                lines=self.bad_utf8,
                count=self.bad_utf8_count,
            )
        if self.long_lines:
            self.findings.add(
                Status.WARN,
                "line_too_long",
                f"{path}: {plural(len(self.long_lines), 'line')} longer than "
                f"{self.limits.max_line_bytes} bytes were not checked (lines {fmt_rows(self.long_lines, len(self.long_lines))})",
                member=path,
                lines=self.long_lines[: self.limits.max_rows_listed],
            )


class DelimitedAnalyzer(TextAnalyzer):
    """TSV (no quoting) and CSV (RFC 4180 quoting): column count of every row, header, types."""

    def __init__(self, member, findings, limits, *, kind: str):
        super().__init__(member, findings, limits)
        self.kind = kind
        self.delimiter = "\t" if kind == "tsv" else None  # CSV: from the first line
        self.width: int | None = None
        self.records = 0  # rows including the first one, blank lines excluded
        self.ragged: list[list[int]] = []
        self.ragged_count = 0
        self.blank: list[int] = []
        self.blank_count = 0
        self.sample: list[list[str]] = []

    def _first_cut(self, chunk: bytes, start: int) -> int:
        if self.kind != "csv":
            return super()._first_cut(chunk, start)
        quotes = self._carry.count(b'"')
        pos = start
        while True:  # the carried record ends at the first newline outside quotes
            i = chunk.find(b"\n", pos)
            if i < 0:
                return -1
            quotes += chunk.count(b'"', pos, i + 1)
            if quotes % 2 == 0:
                return i + 1
            pos = i + 1

    def _cut(self, chunk: bytes, start: int) -> int:
        cut = chunk.rfind(b"\n", start) + 1
        if self.kind != "csv" or cut <= start or chunk.find(b'"', start) < 0:
            return cut
        # Only cut where the quotes before are balanced: a quoted field may hold newlines.
        odd = chunk.count(b'"', start, cut) % 2
        while cut > start and odd:
            prev = max(chunk.rfind(b"\n", start, cut - 1) + 1, start)
            odd ^= chunk.count(b'"', prev, cut) % 2
            cut = prev
        return cut

    def _block(self, buf: bytes, start: int, end: int) -> None:
        if self.check_utf8:
            self._utf8(buf, start, end)
        first_line = self.lines + 1
        if self.width is None:
            head = buf[start : buf.find(b"\n", start)].rstrip(b"\r").decode("utf-8", "replace")
            if self.delimiter is None:
                self.delimiter = csv_delimiter(head)
            self.width = len(self._split_text(head + "\n")[0]) if head else 1
        if self.kind == "csv" and buf.find(b'"', start, end) >= 0:
            self._rows_csv(buf[start:end], first_line)
        else:
            self._rows_plain(buf, start, end, first_line)

    def _split_text(self, text: str) -> list[list[str]]:
        if self.kind == "tsv":
            return [line.rstrip("\r").split("\t") for line in text.split("\n")[:-1]]
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter))

    def _rows_plain(self, buf: bytes, start: int, end: int, first_line: int) -> None:
        delim = self.delimiter.encode()
        expected = self.width - 1
        if len(self.sample) < self.limits.type_inference_rows:
            self._take_sample(buf, start, end)
        # Exact and fast: with everything but delimiters and newlines deleted, a range whose
        # rows all have the same width is one unit repeated (C-speed translate and compare).
        # The lines are counted in the skeleton too (a tenth of the bytes: one pass saved).
        unit = delim * expected + b"\n"
        skeleton = buf.translate(None, _skeleton_delete(delim[0]))
        if start or end < len(buf):  # drop what lies outside the range (its first/last line)
            before = buf.count(delim, 0, start) + buf.count(b"\n", 0, start)
            after = buf.count(delim, end) + buf.count(b"\n", end)
            skeleton = skeleton[before : len(skeleton) - after]
        newlines = skeleton.count(b"\n")
        self.lines += newlines
        if len(skeleton) == len(unit) * newlines and skeleton == unit * newlines:
            self.records += newlines
            return
        lines = buf[start:end].split(b"\n")
        lines.pop()
        for i, n in enumerate(map(bytes.count, lines, repeat(delim))):
            if n == expected:
                self.records += 1
            elif not lines[i].strip(b"\r"):
                self._blank(first_line + i)
            else:
                self.records += 1
                self._ragged(first_line + i, n + 1)

    def _rows_csv(self, block: bytes, first_line: int) -> None:
        text = block.decode("utf-8", "replace")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter, strict=False)
        line_before = 0
        for row in reader:
            line = first_line + line_before
            line_before = reader.line_num
            if not row:
                self._blank(line)
                continue
            self.records += 1
            if len(row) != self.width:
                self._ragged(line, len(row))
            if len(self.sample) < self.limits.type_inference_rows:
                self.sample.append(row)
        self.lines += block.count(b"\n")

    def _take_sample(self, buf: bytes, start: int, end: int) -> None:
        need = self.limits.type_inference_rows - len(self.sample)
        # Rows for type inference: the first ones, parsed the same way as everywhere else.
        stop = start
        for _ in range(need):
            i = buf.find(b"\n", stop, end)
            if i < 0:
                break
            stop = i + 1
        rows = self._split_text(buf[start:stop].decode("utf-8", "replace"))
        self.sample.extend(row for row in rows if any(row))

    def _ragged(self, line: int, fields: int) -> None:
        self.ragged_count += 1
        if len(self.ragged) < self.limits.max_rows_listed:
            self.ragged.append([line, fields])

    def _blank(self, line: int) -> None:
        self.blank_count += 1
        if len(self.blank) < self.limits.max_rows_listed:
            self.blank.append(line)

    def _report(self) -> None:
        super()._report()
        m, path = self.member, self.member.path
        width = self.width or 0
        header = self.sample[0] if self.sample else []
        data_rows = [r for r in self.sample[1:] if len(r) == width]
        m.has_header = bool(header) and _is_header(header, data_rows)
        names = header if m.has_header else [f"column_{i + 1}" for i in range(width)]
        body = data_rows if m.has_header else [r for r in self.sample if len(r) == width]
        m.columns = shared_columns(
            tuple(
                (names[i] if i < len(names) else f"column_{i + 1}", infer_type(r[i] for r in body))
                for i in range(width)
            )
        )
        m.rows = max(self.records - (1 if m.has_header else 0), 0)
        if self.delimiter not in ("\t", ","):
            m.extra = {"delimiter": self.delimiter}
        if self.ragged_count:
            self.findings.add(
                Status.FAIL,
                "ragged_rows",
                f"{path}: {plural(self.ragged_count, 'row')} without the {width} columns of the first row "
                f"(lines {fmt_rows(self.ragged, self.ragged_count)})",
                member=path,
                expected_columns=width,
                rows=self.ragged,
                count=self.ragged_count,
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


def _is_numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _is_header(first: list[str], rows: list[list[str]]) -> bool:
    cells = [c.strip() for c in first]
    if not all(cells) or len(set(cells)) != len(cells):
        return False
    if any(_is_numeric(c) or c.lower() in _BOOL for c in cells):
        return False
    # A header is confirmed by a column whose values are typed while its title is not, or by
    # titles that look like identifiers.
    for i in range(len(cells)):
        if infer_type(r[i] for r in rows) != "text":
            return True
    return all(_IDENT.fullmatch(c) for c in cells)
