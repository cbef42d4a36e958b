"""The byte layers under the tar walk: the stored stream (hashed and counted as it is read) and
its gzip decompression, with the bomb guards applied to every decompressed block."""

import gzip
import hashlib
import io
import queue
import threading
import zlib
from collections import deque

from marketplace.ingestion.limits import Limits
from marketplace.ingestion.report import InputStreamError

try:  # python-isal's igzip decompresses ~3x faster than the standard library
    from isal import igzip as _gzip_impl
    from isal.igzip_lib import IsalError as _DeflateError

    GZIP_BACKEND = "isal"
except ImportError:  # pragma: no cover - exercised only without python-isal
    _gzip_impl = gzip
    _DeflateError = zlib.error
    GZIP_BACKEND = "stdlib"

GZIP_MAGIC = b"\x1f\x8b"

_OTHER_FORMATS = (
    (b"PK\x03\x04", "a zip archive"),
    (b"BZh", "a bzip2 stream"),
    (b"\xfd7zXZ\x00", "an xz stream"),
    (b"\x28\xb5\x2f\xfd", "a zstd stream"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"Rar!", "a rar archive"),
)


class Stop(Exception):  # noqa: N818 - a control-flow signal, not an error of ours
    """The walk cannot go on. `code` names the finding; `guard` is True when a resource cap
    was crossed (then nothing more may be read), False for a structural error."""

    def __init__(self, code: str, message: str, *, guard: bool = False, **details):
        super().__init__(message)
        self.code = code
        self.message = message
        self.guard = guard
        self.details = details


class SourceReader(io.RawIOBase):
    """Reads the stored object once, front to back: hashes and counts every byte, and turns
    any failure of the underlying stream into InputStreamError.

    With `defer_hashing()` the bytes read are queued instead and hashed by `hash_pending()`:
    the decompression thread reads, the walk's thread hashes (hashlib releases the GIL, so it
    overlaps with the decompression, which is the longest stage)."""

    def __init__(self, source):
        super().__init__()
        self._source = source
        self._sha = hashlib.sha256()
        self._unhashed: deque[bytes] | None = None
        self.count = 0
        self.eof = False

    def defer_hashing(self) -> None:
        if self._unhashed is None:
            self._unhashed = deque()

    def hash_pending(self) -> None:
        """Hashes the queued bytes in the order they were read (one thread only calls this:
        the one that owns the digest)."""
        pending = self._unhashed
        if pending:
            update = self._sha.update
            while pending:
                update(pending.popleft())

    def readable(self) -> bool:
        return True

    def read_raw(self, size: int) -> bytes:
        if self.eof:
            return b""
        try:
            data = self._source.read(size)
        except InputStreamError:
            raise
        except Exception as exc:
            raise InputStreamError(f"reading the archive failed: {exc!r}") from exc
        if data is None:  # a non-blocking raw stream with nothing ready: not ours to handle
            raise InputStreamError("the archive stream returned no data (non-blocking source)")
        if not data:
            self.eof = True
            return b""
        if self._unhashed is None:
            self._sha.update(data)
        else:
            self._unhashed.append(data)
        self.count += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read_raw(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def drain(self, chunk: int = 1 << 20) -> None:
        """Reads (and hashes) the rest; only once no other thread reads the source."""
        self.hash_pending()
        self._unhashed = None
        while self.read_raw(chunk):
            pass

    def hexdigest(self) -> str:
        self.hash_pending()
        return self._sha.hexdigest()


def describe_non_gzip(head: bytes) -> str:
    for magic, what in _OTHER_FORMATS:
        if head.startswith(magic):
            return what
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "an uncompressed tar archive"
    return "not gzip data"


class ArchiveStream:
    """Decompressed tar bytes, served in blocks of at most `limits.read_chunk_bytes`.

    Bomb guards run on every decompressed block, so a stream that expands beyond the caps is
    stopped after at most one block (plus the decompressor's 512 KiB of compressed read-ahead).
    """

    def __init__(self, source: SourceReader, limits: Limits):
        self.source = source
        self.limits = limits
        self.uncompressed = 0
        self._buf = b""
        self._pos = 0
        self._eof = False
        head = source.read_raw(64 * 1024)
        if not head:
            raise Stop("empty", "the archive is empty (0 bytes)")
        if not head.startswith(GZIP_MAGIC):
            raise Stop(
                "not_gzip",
                f"the archive is not gzip-compressed ({describe_non_gzip(head)}); "
                "only .tar.gz archives are accepted",
            )
        self._gz = _gzip_impl.GzipFile(fileobj=_Prefixed(head, source), mode="rb")
        self._producer = None
        if limits.decompress_in_thread:
            source.defer_hashing()  # hashed as blocks are taken (_fill), off the producer
            self._producer = _Producer(self._read_block)

    def close(self) -> None:
        """Stops the decompression thread (if any); nothing reads the source afterwards."""
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    def _read_block(self) -> bytes:
        try:
            return self._gz.read(self.limits.read_chunk_bytes)
        except InputStreamError:
            raise
        except EOFError as exc:
            raise Stop(
                "gzip_truncated",
                "the gzip stream ends before its end-of-stream marker "
                "(truncated upload, or data after the last gzip member)",
            ) from exc
        except (gzip.BadGzipFile, OSError, zlib.error, _DeflateError) as exc:
            raise Stop("gzip_corrupt", f"the gzip stream is corrupt: {exc}") from exc

    def _fill(self) -> bool:
        if self._eof:
            return False
        try:
            if self._producer is not None:
                block = self._producer.get()
                self.source.hash_pending()
            else:
                block = self._read_block()
        except Stop as stop:
            stop.details.setdefault("after_uncompressed_bytes", self.uncompressed)
            raise
        if not block:
            self._eof = True
            return False
        self.uncompressed += len(block)
        self._check_guards()
        self._buf, self._pos = block, 0
        return True

    def _check_guards(self) -> None:
        lim = self.limits
        if self.uncompressed > lim.max_total_uncompressed:
            raise Stop(
                "total_size_exceeded",
                f"the archive expands beyond {lim.max_total_uncompressed} bytes",
                guard=True,
                **self.position(),
            )
        compressed = max(self.source.count, 1)
        if (
            self.uncompressed > lim.ratio_grace_bytes
            and self.uncompressed > lim.max_ratio * compressed
        ):
            raise Stop(
                "ratio_exceeded",
                f"compression ratio above {lim.max_ratio:g}:1 "
                f"({self.uncompressed} bytes from {compressed} compressed): "
                "a decompression bomb is not inspected further",
                guard=True,
                **self.position(),
            )

    def position(self) -> dict:
        return {
            "compressed_bytes_read": self.source.count,
            "uncompressed_bytes_read": self.uncompressed,
        }

    def read(self, n: int) -> bytes:
        """Up to n bytes (fewer only at a block boundary or at the end); b"" at the end."""
        if self._pos >= len(self._buf) and not self._fill():
            return b""
        pos = self._pos
        end = pos + n
        buf = self._buf
        if pos == 0 and end >= len(buf):
            self._pos = len(buf)
            return buf
        self._pos = min(end, len(buf))
        return buf[pos:end]

    def read_exact(self, n: int) -> bytes:
        """Exactly n bytes, or fewer at the end of the stream."""
        first = self.read(n)
        if len(first) == n or not first:
            return first
        parts = [first]
        missing = n - len(first)
        while missing:
            more = self.read(missing)
            if not more:
                break
            parts.append(more)
            missing -= len(more)
        return b"".join(parts)

    def skip(self, n: int) -> int:
        """Discards n bytes (still decompressed, counted and guarded); returns bytes skipped."""
        done = 0
        while done < n:
            part = self.read(min(n - done, self.limits.read_chunk_bytes))
            if not part:
                break
            done += len(part)
        return done

    def finish(self) -> int:
        """Reads to the end of the gzip stream; returns the number of non-zero bytes seen."""
        nonzero = 0
        while True:
            part = self.read(self.limits.read_chunk_bytes)
            if not part:
                return nonzero
            if part.count(0) != len(part):
                nonzero += len(part) - part.count(0)


class _Producer(threading.Thread):
    """Decompresses (and, through the SourceReader, reads) ahead of the tar walk in a thread
    of its own: isal releases the GIL, so this overlaps with the caller's thread. At most
    `depth` blocks wait in the queue, so the bomb guards (checked as blocks are taken) still
    stop within a bounded amount."""

    def __init__(self, read_block, depth: int = 4):
        super().__init__(name="ingestion-gunzip", daemon=True)
        self._read_block = read_block
        self._queue: queue.Queue = queue.Queue(depth)
        self._stopping = threading.Event()
        self.start()

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                block = self._read_block()
                self._put(block)
                if not block:
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    def _put(self, item) -> None:
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self) -> bytes:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stopping.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self.join()


class _Prefixed(io.RawIOBase):
    """The SourceReader with the already-read head put back in front (the stream cannot seek)."""

    def __init__(self, head: bytes, source: SourceReader):
        super().__init__()
        self._head = memoryview(head)
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._source.readinto(buffer)

    def read(self, size: int = -1) -> bytes:  # the stdlib gzip reader calls read()
        if self._head:
            n = len(self._head) if size < 0 else min(size, len(self._head))
            data = bytes(self._head[:n])
            self._head = self._head[n:]
            return data
        return self._source.read_raw(size if size >= 0 else 1 << 20)
