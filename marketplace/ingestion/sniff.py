"""Content type of a member from its first bytes (magic numbers, text structure), never from its
name alone. The name only breaks ties between text layouts (a .csv whose rows are ragged is still
a CSV with ragged rows, a .txt with a comma on every line stays text)."""

import codecs
import csv
import io
import json
import posixpath

SNIFF_BYTES = 64 * 1024

MIME = {
    "tsv": "text/tab-separated-values",
    "csv": "text/csv",
    "jsonl": "application/jsonlines",
    "json": "application/json",
    "text": "text/plain",
    "parquet": "application/x-parquet",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "binary": "application/octet-stream",
    "empty": "application/octet-stream",
}
TEXT_KINDS = frozenset({"tsv", "csv", "jsonl", "json", "text"})
TABULAR_KINDS = frozenset({"tsv", "csv", "parquet"})
AUDIO_KINDS = frozenset({"wav", "mp3", "flac", "ogg"})
IMAGE_KINDS = frozenset({"png", "jpeg", "gif", "webp"})

# What a name's extension claims, to report content that contradicts it.
EXTENSION_KIND = {
    ".tsv": "tsv",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".wav": "wav",
    ".mp3": "mp3",
    ".flac": "flac",
    ".ogg": "ogg",
    ".oga": "ogg",
    ".opus": "ogg",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".gif": "gif",
    ".webp": "webp",
    ".txt": "text",
}
# Kinds an extension's kind may legitimately be found as (a .txt may hold a TSV, ...).
COMPATIBLE = {
    "text": TEXT_KINDS,
    "tsv": {"tsv", "text"},
    "csv": {"csv", "tsv", "text"},
    "jsonl": {"jsonl", "json"},
    "json": {"json", "jsonl"},
}

_MP3_BITRATE_OK = set(range(1, 15))
_NOT_CONTROL = bytes(c for c in range(256) if c >= 32 or c in (9, 10, 12, 13))


def extension_kind(path: str) -> str | None:
    return EXTENSION_KIND.get(posixpath.splitext(path)[1].lower())


def _mpeg_frame(head: bytes) -> bool:
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 3
    layer = (head[1] >> 1) & 3
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate in _MP3_BITRATE_OK and rate != 3


def _binary_kind(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ID3") or _mpeg_frame(head):
        return "mp3"
    return None


def _looks_textual(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    # Control bytes other than tab/newline/CR/FF are rare in text, common in binaries.
    controls = len(head.translate(None, _NOT_CONTROL))
    return controls <= len(head) // 100


def _lines(text: str, complete: bool, limit: int = 50) -> list[str]:
    lines = text.split("\n")
    if not complete:
        lines = lines[:-1]  # the last one may be cut
    return [line.rstrip("\r") for line in lines if line.strip()][:limit]


def _consistent(lines: list[str], delimiter: str) -> bool:
    if len(lines) < 2:
        return bool(lines) and delimiter in lines[0]
    try:
        widths = [
            len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
        ]
    except csv.Error:
        return False
    return widths[0] > 1 and all(w == widths[0] for w in widths)


def csv_delimiter(first_line: str) -> str:
    return ";" if first_line.count(";") > first_line.count(",") else ","


def sniff(head: bytes, *, complete: bool, path: str = "") -> str:
    """Kind of a member from its first bytes; `complete` when head is the whole member."""
    if not head:
        return "empty"
    kind = _binary_kind(head)
    if kind:
        return kind
    if not _looks_textual(head):
        return "binary"
    body = head[3:] if head.startswith(codecs.BOM_UTF8) else head
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(body, final=complete)
    lines = _lines(text, complete)
    if not lines:
        return "text"
    hint = extension_kind(path)
    first = lines[0].lstrip()
    if first.startswith(("{", "[")):
        try:
            json.loads(first)
        except ValueError:
            return "json"  # a pretty-printed document
        if complete and len(lines) == 1 and hint != "jsonl":
            return "json"
        return "jsonl"
    if "\t" in lines[0] and (hint == "tsv" or _consistent(lines, "\t")):
        return "tsv"
    delimiter = csv_delimiter(lines[0])
    if delimiter in lines[0] and (
        hint == "csv" or (hint != "text" and _consistent(lines, delimiter))
    ):
        return "csv"
    return "text"
