"""Builders of good and hostile archives, all in memory (or streamed, never materialised)."""

import gzip
import io
import struct
import tarfile
import zlib
from pathlib import Path

SAMPLES = Path(__file__).parent / "samples"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def entry(name: str, data: bytes = b"", *, type=tarfile.REGTYPE, linkname: str = "", size=None):
    info = tarfile.TarInfo(name)
    info.type = type
    info.linkname = linkname
    info.size = len(data) if size is None else size
    info.mode = 0o644
    return info, data


def tar_bytes(entries, *, format=tarfile.PAX_FORMAT) -> bytes:
    """entries: (name, data) pairs or entry() tuples; names are written exactly as given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=format) as tf:
        for item in entries:
            info, data = item if isinstance(item[0], tarfile.TarInfo) else entry(*item)
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def targz(entries, **kw) -> bytes:
    return gzip.compress(tar_bytes(entries, **kw), mtime=0)


def wav(seconds: float = 1.0, rate: int = 8000, *, truncate_to: int | None = None) -> bytes:
    frames = int(seconds * rate)
    data = bytes(2 * frames)
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(data),
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        rate,
        2 * rate,
        2,
        16,
        b"data",
        len(data),
    )
    out = header + data
    return out[:truncate_to] if truncate_to is not None else out


def image(fmt: str = "PNG", size=(32, 24)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format=fmt)
    return buf.getvalue()


class OnceReader:
    """A forward-only byte stream like a boto3 StreamingBody: read(n) only (no seek, no tell),
    returning short reads; counts what was consumed."""

    def __init__(self, data: bytes, *, max_read: int = 70_000):
        self._data = memoryview(data)
        self._pos = 0
        self._max = max_read
        self.consumed = 0

    def read(self, n: int = -1) -> bytes:
        n = len(self._data) if n is None or n < 0 else n
        n = min(n, self._max)
        out = bytes(self._data[self._pos : self._pos + n])
        self._pos += len(out)
        self.consumed += len(out)
        return out


class FailingReader(OnceReader):
    """Fails like a dropped S3 connection after `fail_after` bytes."""

    def __init__(self, data: bytes, fail_after: int):
        super().__init__(data)
        self.fail_after = fail_after

    def read(self, n: int = -1) -> bytes:
        if self.consumed >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(min(n, self.fail_after - self.consumed))


class BombReader:
    """A gzip stream of a tar whose single member is `member_bytes` of zeros, generated lazily
    from one repeated deflate segment: nothing close to its expanded size ever exists."""

    def __init__(self, member_bytes: int = 20 * 1024**3, segment: int = 1 << 20):
        header = tarfile.TarInfo("zeros.bin")
        header.size = member_bytes
        tar_header = header.tobuf(format=tarfile.GNU_FORMAT)
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        self._prefix = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + c.compress(tar_header)
        self._prefix += c.flush(zlib.Z_FULL_FLUSH)
        zeros = bytes(segment)
        first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
        second = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
        assert first == second, "a full flush must make segments independent"
        self._segment = second
        self._segments = member_bytes // segment
        self.compressed_size = len(self._prefix) + len(second) * self._segments
        self.expanded_size = len(tar_header) + member_bytes
        self.consumed = 0
        self._emitted_segments = 0
        self._pending = memoryview(self._prefix)

    def read(self, n: int = -1) -> bytes:
        if not self._pending:
            if self._emitted_segments >= self._segments:
                return b""  # never reached by a working inspector (no trailer: it would stop)
            self._emitted_segments += 1
            self._pending = memoryview(self._segment)
        n = len(self._pending) if n is None or n < 0 else n
        out = bytes(self._pending[:n])
        self._pending = self._pending[len(out) :]
        self.consumed += len(out)
        return out
