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

# MPEG audio frame headers (ISO 11172-3 / 13818-3): bitrates in kbit/s by (MPEG-1?, layer),
# sample rates in Hz by version bits (0: MPEG-2.5, 2: MPEG-2, 3: MPEG-1).
_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
# Consecutive frames that must chain (each header where the previous frame's length says) for
# content to count as MPEG audio: one header is 11 set bits that random bytes show about once
# in 2,000 positions; four chained ones, practically never.
MP3_MIN_FRAMES = 4
_NOT_CONTROL = bytes(c for c in range(256) if c >= 32 or c in (9, 10, 12, 13))


def extension_kind(path: str) -> str | None:
    return EXTENSION_KIND.get(posixpath.splitext(path)[1].lower())


def _mpeg_frame_length(head: bytes, at: int = 0) -> tuple[tuple[int, int, int], int] | None:
    """(version, layer, sample-rate index) and byte length of the MPEG audio frame whose header
    starts at `at`, or None when there is no valid header there (free-format frames, whose
    length the header does not give, are not recognised)."""
    if len(head) < at + 4 or head[at] != 0xFF or head[at + 1] & 0xE0 != 0xE0:
        return None
    version = (head[at + 1] >> 3) & 3
    layer_bits = (head[at + 1] >> 1) & 3
    bitrate_index = head[at + 2] >> 4
    rate_index = (head[at + 2] >> 2) & 3
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    if head[at + 3] & 3 == 2:  # reserved emphasis
        return None
    layer = 4 - layer_bits  # 1, 2 or 3
    mpeg1 = version == 3
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    rate = _SAMPLE_RATES[version][rate_index]
    padding = (head[at + 2] >> 1) & 1
    if layer == 1:
        length = (12 * bitrate // rate + padding) * 4
    else:
        length = (144 if mpeg1 or layer == 2 else 72) * bitrate // rate + padding
    return (version, layer, rate_index), length


def _mpeg_frames(head: bytes, *, complete: bool, at: int = 0) -> bool:
    """MP3_MIN_FRAMES frame headers in a row, each where the previous frame ends, of the same
    version, layer and sample rate (a shorter member may end after its last whole frame)."""
    first = _mpeg_frame_length(head, at)
    if first is None:
        return False
    stream, _ = first
    frames = 0
    while frames < MP3_MIN_FRAMES:
        frame = _mpeg_frame_length(head, at)
        if frame is None or frame[0] != stream:
            # The head ended (or the whole member did) after some whole frames.
            if complete:  # the member ends after its last frame, or an ID3v1 tag follows
                return frames > 0 and (at == len(head) or head[at : at + 3] == b"TAG")
            return frames > 0 and at + 4 > len(head)
        frames += 1
        at += frame[1]
    return True


def _id3v2(head: bytes) -> bool:
    """An ID3v2 tag header: "ID3", major version 2-4, syncsafe size bytes (high bit clear).
    Followed by MPEG frames when the tag ends within the head."""
    if len(head) < 10 or not head.startswith(b"ID3") or head[3] not in (2, 3, 4):
        return False
    if head[4] == 0xFF or any(b & 0x80 for b in head[6:10]):
        return False
    size = 10 + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9])
    if head[5] & 0x10:  # footer present
        size += 10
    return size + 4 > len(head) or _mpeg_frames(head, complete=False, at=size)


def _binary_kind(head: bytes, complete: bool = False) -> str | None:
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
    if _id3v2(head) or _mpeg_frames(head, complete=complete):
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
    kind = _binary_kind(head, complete)
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
