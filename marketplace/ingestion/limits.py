"""Resource limits of one inspection. The defaults suit a worker with ~200 MB of memory."""

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB


@dataclass(frozen=True, slots=True)
class Limits:
    # --- archive safety: enforced while streaming; crossing one stops the inspection at once ---
    max_members: int = 1_000_000
    """Tar entries of any type (files, directories, links)."""
    max_total_uncompressed: int = 1 * TIB
    """Decompressed bytes of the whole tar stream (headers and padding included)."""
    max_ratio: float = 200.0
    """Decompressed / compressed bytes, checked once `ratio_grace_bytes` have been decompressed."""
    ratio_grace_bytes: int = 8 * MIB
    max_member_name_bytes: int = 4096
    max_meta_header_bytes: int = 1 * MIB
    """Size cap of one pax / GNU long-name header (tarfile would read any size into memory)."""
    max_line_bytes: int = 16 * MIB
    """Longest text line held while scanning; a longer line is reported and skipped."""

    # --- reading ---
    read_chunk_bytes: int = 1 * MIB
    """Decompressed block size: every consumer sees member data in pieces of at most this."""
    decompress_in_thread: bool = True
    """Read and decompress in a second thread, overlapping with member parsing (the stored
    bytes are then hashed on the walk's thread as it takes the blocks)."""
    offload_min_member_bytes: int | None = 2 * MIB
    """Members at least this large are hashed and scanned for personal data in a third thread,
    overlapping with their format checks (offload.py); None: always in the walk's thread."""

    # --- per-member parse budgets (bounded memory, bounded time) ---
    type_inference_rows: int = 1000
    json_document_max_bytes: int = 16 * MIB
    """A single JSON document (not JSONL) is only parsed when it is at most this large."""
    image_max_bytes: int = 32 * MIB
    """Images are held whole to decode them; a larger image is only sized from its header."""
    image_max_pixels: int = 25_000_000
    """Images with more pixels are not decoded (decompression-bomb guard, ~100 MB RGBA)."""
    audio_head_bytes: int = 1 * MIB
    """Head of an audio member kept for header parsing (grows to hold an ID3v2 tag, up to 16 MiB)."""
    audio_tail_bytes: int = 256 * KIB
    """Tail of an audio member kept (Ogg last page, ID3v1/APE tags)."""
    parquet_footer_max_bytes: int = 16 * MIB
    """Parquet: the last this-many bytes of a member are kept to read the footer (schema)."""

    # --- personal-data scan budgets ---
    pii_scan_bytes_per_member: int = 32 * MIB
    """A larger text member is sampled: evenly spread blocks adding up to this (the scan runs
    at ~300-600 MB/s, so this bounds its cost; coverage is reported in the check's details)."""
    pii_scan_total_bytes: int = 512 * MIB
    """Once spent, each further text member is still sampled on `pii_min_sample_bytes`."""
    pii_min_sample_bytes: int = 1 * MIB
    pii_examples_per_kind: int = 5

    # --- reporting ---
    max_findings_per_check: int = 50
    max_rows_listed: int = 20
    """Row / line numbers listed in one finding (the count is always complete)."""
    max_column_members_in_statistics: int = 1000

    # --- malware ---
    clamd_max_stream_bytes: int = 25 * MIB
    """Bytes of one member sent to clamd; must not exceed clamd's StreamMaxLength (default 25M
    in clamd.conf.sample / 100M in ClamAV ≥ 1.0 builds). A larger member is scanned on its first
    this-many bytes and reported as partially scanned."""
    clamd_timeout_seconds: float = 60.0

    # --- duplicates ---
    duplicate_overlap_warn_percent: float | None = None
    """Warn when this share (by count) of members is already known; None: report only."""

    # --- misc ---
    drain_after_error: bool = True
    """After a structural error (not gzip, truncated gzip, corrupt tar) keep reading the raw
    bytes, without decompressing, so that the archive SHA-256 and size are still verified.
    Never done after a resource cap was crossed: then reading stops at once."""
