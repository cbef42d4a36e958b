"""Parquet schema and row count from the footer, with a small Thrift compact-protocol reader.

Why not pyarrow: it is a ~40 MB native wheel that would parse hostile input in C++ for what is a
few hundred bytes of metadata. The footer (FileMetaData) is read from the member's last bytes,
kept while streaming (`Limits.parquet_footer_max_bytes`); row groups are skipped, not built.
The reader is bounded: nesting depth, element counts (each element takes at least one byte of
input) and string lengths are checked against the bytes that remain."""

import struct
from collections import deque

from marketplace.ingestion.limits import Limits
from marketplace.ingestion.report import Column, Findings, MemberInfo, Status

MAGIC = b"PAR1"
_PHYSICAL = [
    "BOOLEAN",
    "INT32",
    "INT64",
    "INT96",
    "FLOAT",
    "DOUBLE",
    "BYTE_ARRAY",
    "FIXED_LEN_BYTE_ARRAY",
]
_CONVERTED = {
    0: "UTF8", 1: "MAP", 2: "MAP_KEY_VALUE", 3: "LIST", 4: "ENUM", 5: "DECIMAL", 6: "DATE",
    7: "TIME_MILLIS", 8: "TIME_MICROS", 9: "TIMESTAMP_MILLIS", 10: "TIMESTAMP_MICROS",
    11: "UINT_8", 12: "UINT_16", 13: "UINT_32", 14: "UINT_64", 15: "INT_8", 16: "INT_16",
    17: "INT_32", 18: "INT_64", 19: "JSON", 20: "BSON", 21: "INTERVAL",
}  # fmt: skip
_LOGICAL = {
    1: "STRING", 2: "MAP", 3: "LIST", 4: "ENUM", 5: "DECIMAL", 6: "DATE", 7: "TIME",
    8: "TIMESTAMP", 10: "INTEGER", 11: "UNKNOWN", 12: "JSON", 13: "BSON", 14: "UUID",
    15: "FLOAT16", 16: "VARIANT", 17: "GEOMETRY", 18: "GEOGRAPHY",
}  # fmt: skip
_MAX_DEPTH = 64


class ThriftError(ValueError):
    pass


class CompactReader:
    """Thrift compact protocol: structs become {field id: value}; skipped fields are not built."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def _byte(self) -> int:
        if self.pos >= len(self.data):
            raise ThriftError("footer ends early")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self._byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise ThriftError("varint too long")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def binary(self) -> bytes:
        n = self.varint()
        if n > len(self.data) - self.pos:
            raise ThriftError("string longer than the footer")
        value = self.data[self.pos : self.pos + n]
        self.pos += n
        return value

    def value(self, ttype: int, depth: int, skip: bool = False):
        if ttype in (1, 2):  # bool, encoded in the field type
            return ttype == 1
        if ttype == 3:
            return self._byte()
        if ttype in (4, 5, 6):
            return self.zigzag()
        if ttype == 7:
            if self.pos + 8 > len(self.data):
                raise ThriftError("footer ends early")
            self.pos += 8
            return struct.unpack_from("<d", self.data, self.pos - 8)[0]
        if ttype == 8:
            return self.binary()
        if ttype in (9, 10):
            return self.list(depth, skip)
        if ttype == 11:
            return self.map(depth, skip)
        if ttype == 12:
            return self.struct(depth + 1, skip=skip)
        raise ThriftError(f"unknown thrift type {ttype}")

    def list(self, depth: int, skip: bool):
        header = self._byte()
        size, etype = header >> 4, header & 0x0F
        if size == 15:
            size = self.varint()
        if size > len(self.data) - self.pos:
            raise ThriftError("list longer than the footer")
        out = [] if not skip else None
        for _ in range(size):
            item = self._byte() == 1 if etype in (1, 2) else self.value(etype, depth, skip)
            if out is not None:
                out.append(item)
        return out

    def map(self, depth: int, skip: bool):
        size = self.varint()
        if size == 0:
            return {}
        if size > len(self.data) - self.pos:
            raise ThriftError("map longer than the footer")
        types = self._byte()
        out = {}
        for _ in range(size):
            key = self.value(types >> 4, depth, skip)
            val = self.value(types & 0x0F, depth, skip)
            if not skip and isinstance(key, int | bytes | str | bool | float):
                out[key] = val
        return out

    def struct(self, depth: int = 0, *, skip: bool = False, skip_fields=frozenset()) -> dict | None:
        if depth > _MAX_DEPTH:
            raise ThriftError("structure nested too deeply")
        out = {} if not skip else None
        field_id = 0
        while True:
            header = self._byte()
            if header == 0:
                return out
            ttype = header & 0x0F
            delta = header >> 4
            field_id = field_id + delta if delta else self.zigzag()
            skipping = skip or field_id in skip_fields
            value = self.value(ttype, depth, skipping)
            if not skipping:
                out[field_id] = value


def read_footer(data: bytes) -> dict:
    """FileMetaData fields 1 (version), 2 (schema), 3 (num_rows), 6 (created_by); row groups
    (4) and key/value metadata (5) are skipped."""
    return CompactReader(data).struct(skip_fields=frozenset({4, 5, 7, 8, 9}))


def _simple_type(element: dict) -> tuple[str, str]:
    physical = element.get(1)
    name = _PHYSICAL[physical] if isinstance(physical, int) and 0 <= physical < 8 else "GROUP"
    logical = element.get(10)
    annotation = None
    if isinstance(logical, dict) and logical:
        annotation = _LOGICAL.get(next(iter(logical)), "UNKNOWN")
    elif isinstance(element.get(6), int):
        annotation = _CONVERTED.get(element[6])
    source = f"{name}/{annotation}" if annotation else name
    if name == "BOOLEAN":
        simple = "bool"
    elif name in ("INT32", "INT64") and annotation in (
        None,
        "INTEGER",
        "INT_8",
        "INT_16",
        "INT_32",
        "INT_64",
        "UINT_8",
        "UINT_16",
        "UINT_32",
        "UINT_64",
    ):
        simple = "integer"
    elif name in ("FLOAT", "DOUBLE") or annotation in ("DECIMAL", "FLOAT16"):
        simple = "float"
    else:
        simple = "text"  # strings, binary, dates and times, nested groups
    return simple, source


def schema_columns(schema: list) -> list[Column]:
    """Top-level fields of the schema (the first element is the root)."""
    if not schema or not isinstance(schema[0], dict):
        raise ThriftError("empty schema")
    columns = []
    index = 1
    for _ in range(schema[0].get(5, 0)):
        if index >= len(schema):
            raise ThriftError("schema shorter than its root says")
        element = schema[index]
        name = element.get(4, b"").decode("utf-8", "replace")
        simple, source = _simple_type(element)
        if 5 in element:  # a group: skip its whole subtree
            source = "GROUP" + (f"/{source.split('/', 1)[1]}" if "/" in source else "")
            simple = "text"
            pending = element[5]
            index += 1
            while pending:
                if index >= len(schema):
                    raise ThriftError("schema shorter than its groups say")
                pending += schema[index].get(5, 0) - 1
                index += 1
        else:
            index += 1
        columns.append(Column(name=name, type=simple, source_type=source))
    return columns


class ParquetAnalyzer:
    def __init__(self, member: MemberInfo, findings: Findings, limits: Limits):
        self.member = member
        self.findings = findings
        self.cap = limits.parquet_footer_max_bytes + 8
        self._tail: deque[bytes] = deque()
        self._tail_len = 0
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._tail.append(chunk)
        self._tail_len += len(chunk)
        while self._tail_len - len(self._tail[0]) >= self.cap:
            self._tail_len -= len(self._tail.popleft())

    def _fail(self, code: str, message: str, severity: Status = Status.FAIL) -> None:
        path = self.member.path
        self.findings.add(severity, code, f"{path}: {message}", member=path)

    def finish(self) -> None:
        tail = b"".join(self._tail)
        self._tail.clear()
        if tail[-4:] == b"PARE":
            self._fail(
                "parquet_encrypted", "encrypted Parquet footer; schema not read", Status.WARN
            )
            return
        if self.size < 12 or tail[-4:] != MAGIC:
            self._fail("parquet_invalid", "no Parquet footer (truncated or not Parquet)")
            return
        footer_len = struct.unpack_from("<I", tail, len(tail) - 8)[0]
        if footer_len > self.size - 12:
            self._fail("parquet_invalid", f"footer length {footer_len} exceeds the file")
            return
        if footer_len > len(tail) - 8:
            self._fail(
                "parquet_footer_too_large",
                f"footer of {footer_len} bytes is over the inspection limit; schema not read",
                Status.WARN,
            )
            return
        try:
            meta = read_footer(tail[len(tail) - 8 - footer_len : len(tail) - 8])
            columns = schema_columns(meta.get(2) or [])
            rows = meta.get(3)
        except (ThriftError, AttributeError, TypeError, UnicodeDecodeError) as exc:
            self._fail("parquet_invalid", f"footer could not be read ({exc})")
            return
        m = self.member
        m.columns = columns
        m.rows = rows if isinstance(rows, int) and rows >= 0 else None
        created_by = meta.get(6)
        m.extra = {"format_version": meta.get(1)}
        if isinstance(created_by, bytes):
            m.extra["created_by"] = created_by.decode("utf-8", "replace")[:200]
