"""Audio and image members: headers parsed, durations and dimensions read, images decoded.

Nothing holds a whole audio member: WAV is parsed from its head and its size; MP3/FLAC/Ogg go to
mutagen through a file object that only knows the member's head and tail (reads elsewhere fail,
which mutagen reports as an unreadable header). Images are held whole up to
`Limits.image_max_bytes` to decode them."""

import io
import struct
import warnings
from collections import deque

from PIL import Image, UnidentifiedImageError

from marketplace.ingestion.limits import MIB, Limits
from marketplace.ingestion.report import Findings, MemberInfo, Status


class HeadTail:
    """Keeps the first `head` and the last `tail` bytes of a member fed in blocks."""

    def __init__(self, head: int, tail: int):
        self.head_cap = head
        self.tail_cap = tail
        self.head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_len = 0
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        start = self.size
        self.size += len(chunk)
        if start < self.head_cap:
            self.head += chunk[: self.head_cap - start]
        if self.tail_cap:
            self._tail.append(chunk)
            self._tail_len += len(chunk)
            while self._tail_len - len(self._tail[0]) >= self.tail_cap:
                self._tail_len -= len(self._tail.popleft())

    def tail(self) -> bytes:
        data = b"".join(self._tail)
        return data[-self.tail_cap :] if len(data) > self.tail_cap else data


class WindowFile(io.RawIOBase):
    """A read-only, seekable view of a member of which only the head and tail are known."""

    def __init__(self, head: bytes, tail: bytes, size: int):
        super().__init__()
        self._head, self._tail, self._size = bytes(head), tail, size
        self._tail_start = size - len(tail)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._pos, self._size)[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        pos = self._pos
        end = self._size if size is None or size < 0 else min(self._size, pos + size)
        if pos >= end:
            return b""
        head, tail_start = self._head, self._tail_start
        if end <= len(head):
            data = head[pos:end]
        elif pos >= tail_start:
            data = self._tail[pos - tail_start : end - tail_start]
        elif len(head) >= tail_start:  # head and tail meet: the whole member is known
            data = (head + self._tail[len(head) - tail_start :])[pos:end]
        else:
            raise OSError("read outside the inspected head and tail of the member")
        self._pos += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class AudioAnalyzer:
    def __init__(self, member: MemberInfo, findings: Findings, limits: Limits):
        self.member = member
        self.findings = findings
        self.limits = limits
        self.window = HeadTail(limits.audio_head_bytes, limits.audio_tail_bytes)
        self._id3_checked = False

    def feed(self, chunk: bytes) -> None:
        if not self._id3_checked and self.member.kind == "mp3" and len(chunk) >= 10:
            self._id3_checked = True
            if chunk.startswith(b"ID3"):  # keep the whole ID3v2 tag plus the first frames
                b = chunk[6:10]
                tag = (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]
                self.window.head_cap = min(
                    max(self.window.head_cap, tag + 10 + 256 * 1024), 16 * MIB
                )
        self.window.feed(chunk)

    def finish(self) -> None:
        if self.member.kind == "wav":
            self._wav()
        else:
            self._mutagen()

    def _fail(self, code: str, message: str, severity: Status = Status.FAIL, **extra) -> None:
        path = self.member.path
        self.findings.add(severity, code, f"{path}: {message}", member=path, **extra)

    def _wav(self) -> None:
        head, size = bytes(self.window.head), self.window.size
        if head[:4] != b"RIFF":
            self._fail("audio_unsupported", "RF64/BW64 WAV is not inspected", Status.WARN)
            return
        riff_size = struct.unpack_from("<I", head, 4)[0]
        pos, fmt, data_offset, data_size = 12, None, None, None
        while pos + 8 <= len(head):
            chunk_id, chunk_size = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
            if chunk_id == b"fmt " and pos + 8 + 16 <= len(head):
                fmt = struct.unpack_from("<HHIIHH", head, pos + 8)
            elif chunk_id == b"data":
                data_offset, data_size = pos + 8, chunk_size
                break
            pos += 8 + chunk_size + (chunk_size & 1)
        if fmt is None or data_offset is None:
            where = "fmt" if fmt is None else "data"
            if pos + 8 > size:
                self._fail(
                    "audio_truncated", f"truncated WAV: the file ends before its {where} chunk"
                )
            else:
                self._fail(
                    "audio_invalid", f"WAV {where} chunk not found in the first {len(head)} bytes"
                )
            return
        tag, channels, rate, byte_rate, block_align, bits = fmt
        m = self.member
        m.sample_rate, m.channels = rate, channels
        m.extra = {"codec": f"wav/0x{tag:04x}", "bits_per_sample": bits}
        if not rate or not channels or not byte_rate:
            self._fail(
                "audio_invalid", f"WAV fmt chunk is invalid (rate={rate}, channels={channels})"
            )
            return
        present = size - data_offset
        if data_size in (0, 0xFFFFFFFF):  # streamed WAV: the size was never filled in
            data_size = present
        if data_size > present:
            self._fail(
                "audio_truncated",
                f"truncated WAV: {data_size - present} bytes missing (data chunk declares "
                f"{data_size} bytes, {max(present, 0)} present)",
                declared=data_size,
                present=max(present, 0),
            )
            data_size = max(present, 0)
        elif riff_size + 8 > size + 1:  # one byte of slack: writers that skip the pad byte
            self._fail(
                "audio_header_mismatch",
                f"WAV RIFF header declares {riff_size + 8} bytes, the file has {size}",
                Status.WARN,
            )
        m.duration_seconds = round(data_size / byte_rate, 3)

    def _mutagen(self) -> None:
        from mutagen import MutagenError
        from mutagen.flac import FLAC
        from mutagen.mp3 import MP3
        from mutagen.oggflac import OggFLAC
        from mutagen.oggopus import OggOpus
        from mutagen.oggspeex import OggSpeex
        from mutagen.oggvorbis import OggVorbis

        w = self.window
        head = bytes(w.head)
        kind = self.member.kind
        if kind == "ogg":
            classes = {b"\x01vorbis": OggVorbis, b"OpusHead": OggOpus, b"\x7fFLAC": OggFLAC}
            first_packet = head[27 + head[26] : 27 + head[26] + 8] if len(head) > 27 else b""
            cls = next((c for magic, c in classes.items() if first_packet.startswith(magic)), None)
            if cls is None and first_packet.startswith(b"Speex"):
                cls = OggSpeex
            if cls is None:
                self._fail(
                    "audio_unsupported",
                    "Ogg stream is not Vorbis/Opus/FLAC/Speex audio",
                    Status.WARN,
                )
                return
        else:
            cls = {"mp3": MP3, "flac": FLAC}[kind]
        try:
            audio = cls(WindowFile(head, w.tail(), w.size))
        except (MutagenError, OSError, EOFError, struct.error, ValueError, IndexError) as exc:
            self._fail("audio_invalid", f"{kind.upper()} headers could not be read ({exc})")
            return
        info = audio.info
        m = self.member
        m.duration_seconds = round(float(info.length or 0.0), 3)
        m.channels = getattr(info, "channels", None)
        m.sample_rate = getattr(info, "sample_rate", None) or (48000 if cls is OggOpus else None)
        m.extra = {"codec": cls.__name__.lower()}
        if getattr(info, "bitrate", None):
            m.extra["bitrate"] = info.bitrate


class ImageAnalyzer:
    def __init__(self, member: MemberInfo, findings: Findings, limits: Limits):
        self.member = member
        self.findings = findings
        self.limits = limits
        self.parts: list[bytes] = []
        self.size = 0
        self.head = bytearray()

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if len(self.head) < 256 * 1024:
            self.head += chunk[: 256 * 1024 - len(self.head)]
        if self.size <= self.limits.image_max_bytes:
            self.parts.append(chunk)
        else:
            self.parts = []

    def finish(self) -> None:
        m, path = self.member, self.member.path
        whole = self.size <= self.limits.image_max_bytes
        data = b"".join(self.parts) if whole else bytes(self.head)
        self.parts = []
        try:
            with warnings.catch_warnings():
                # Our own pixel limit (below Pillow's warning threshold) decides what is decoded.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                img = Image.open(io.BytesIO(data), formats=[m.kind.upper()])
            with img:
                m.width, m.height = img.size
                m.extra = {"mode": img.mode, "frames": getattr(img, "n_frames", 1)}
                if not whole:
                    m.extra["decoded"] = False
                    m.extra["reason"] = f"larger than {self.limits.image_max_bytes} bytes"
                    return
                if img.width * img.height > self.limits.image_max_pixels:
                    m.extra["decoded"] = False
                    self.findings.add(
                        Status.WARN,
                        "image_too_large",
                        f"{path}: {img.width}x{img.height} pixels, over the decode limit of "
                        f"{self.limits.image_max_pixels}; not decoded",
                        member=path,
                    )
                    return
                img.load()
                m.extra["decoded"] = True
        except Image.DecompressionBombError as exc:
            self.findings.add(
                Status.WARN, "image_too_large", f"{path}: {exc}; not decoded", member=path
            )
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            self.findings.add(
                Status.FAIL,
                "image_invalid",
                f"{path}: image could not be decoded ({exc})",
                member=path,
            )
