"""A minimal clamd client: the INSTREAM command over TCP (or a Unix socket).

Protocol: "zINSTREAM\\0", then chunks each prefixed by its length as a 4-byte big-endian
unsigned integer, then a zero-length chunk; clamd answers "stream: OK\\0",
"stream: <signature> FOUND\\0" or "<reason> ERROR\\0". clamd refuses a stream longer than its
StreamMaxLength (clamd.conf) with "INSTREAM size limit exceeded. ERROR": the client stops
sending at `max_stream_bytes` (keep it at or below StreamMaxLength) and says the scan was partial.
"""

import socket
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit

_FRAME = 1 << 20  # bytes per INSTREAM chunk


class ClamdError(Exception):
    """clamd is unreachable, timed out or answered with an error."""


@dataclass(frozen=True, slots=True)
class ScanResult:
    infected: bool
    signature: str | None
    scanned_bytes: int
    truncated: bool
    """Only the first `scanned_bytes` were sent (the stream was longer than the limit)."""


class ClamdClient:
    """`ClamdClient("tcp://127.0.0.1:3310")` or `ClamdClient("unix:///run/clamav/clamd.ctl")`."""

    def __init__(
        self, url: str, *, timeout: float = 60.0, max_stream_bytes: int = 25 * 1024 * 1024
    ):
        parts = urlsplit(url)
        if parts.scheme == "tcp" and parts.hostname and parts.port:
            self._family, self._address = socket.AF_INET, (parts.hostname, parts.port)
        elif parts.scheme == "unix" and parts.path:
            self._family, self._address = socket.AF_UNIX, parts.path
        else:
            raise ValueError(f"clamd URL must be tcp://host:port or unix:///path, not {url!r}")
        self.url = url
        self.timeout = timeout
        self.max_stream_bytes = max_stream_bytes

    def _connect(self) -> socket.socket:
        try:
            if self._family == socket.AF_INET:
                return socket.create_connection(self._address, timeout=self.timeout)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            sock.connect(self._address)
            return sock
        except OSError as exc:
            raise ClamdError(f"cannot connect to clamd at {self.url}: {exc}") from exc

    def _command(self, command: bytes) -> str:
        with self._connect() as sock:
            try:
                sock.sendall(b"z" + command + b"\0")
                return _read_reply(sock)
            except OSError as exc:
                raise ClamdError(f"clamd {command.decode()} failed: {exc}") from exc

    def ping(self) -> bool:
        return self._command(b"PING") == "PONG"

    def version(self) -> str:
        return self._command(b"VERSION")

    def instream(self) -> "ClamdStream":
        return ClamdStream(self)

    def scan_bytes(self, data: bytes) -> ScanResult:
        with self.instream() as stream:
            stream.send(data)
            return stream.finish()


class ClamdStream:
    """One INSTREAM session; the connection opens on the first send()."""

    def __init__(self, client: ClamdClient):
        self.client = client
        self.sent = 0
        self.truncated = False
        self._sock: socket.socket | None = None

    def __enter__(self) -> "ClamdStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _open(self) -> socket.socket:
        if self._sock is None:
            self._sock = self.client._connect()
            self._sendall(b"zINSTREAM\0")
        return self._sock

    def _sendall(self, data) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            # clamd closes the connection on a size-limit error: its reply says why.
            reply = self._reply_after_error()
            raise ClamdError(f"clamd INSTREAM failed: {reply or exc}") from exc

    def _reply_after_error(self) -> str:
        try:
            self._sock.settimeout(1.0)
            return _read_reply(self._sock)
        except OSError:
            return ""

    def send(self, data: bytes) -> None:
        room = self.client.max_stream_bytes - self.sent
        if room <= 0:
            self.truncated = self.truncated or bool(data)
            return
        if len(data) > room:
            data, self.truncated = data[:room], True
        self._open()
        view = memoryview(data)
        for start in range(0, len(view), _FRAME):
            frame = view[start : start + _FRAME]
            self._sendall(struct.pack(">I", len(frame)))
            self._sendall(frame)
        self.sent += len(data)

    def finish(self) -> ScanResult:
        self._open()
        self._sendall(struct.pack(">I", 0))
        try:
            reply = _read_reply(self._sock)
        except OSError as exc:
            raise ClamdError(f"no answer from clamd: {exc}") from exc
        finally:
            self.close()
        return parse_reply(reply, self.sent, self.truncated)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _read_reply(sock: socket.socket) -> str:
    parts = []
    while True:
        data = sock.recv(4096)
        if not data:
            break
        parts.append(data)
        if data.endswith(b"\0"):
            break
    return b"".join(parts).rstrip(b"\0").decode("utf-8", "replace").strip()


def parse_reply(reply: str, sent: int, truncated: bool) -> ScanResult:
    """ "stream: OK" / "stream: <name> FOUND" / "... ERROR" (the session id prefix of IDSESSION
    replies, "<n>: ", is not used here)."""
    body = reply.split(": ", 1)[1] if reply.startswith("stream: ") else reply
    if body == "OK":
        return ScanResult(False, None, sent, truncated)
    if body.endswith(" FOUND"):
        return ScanResult(True, body[: -len(" FOUND")], sent, truncated)
    raise ClamdError(f"clamd answered: {reply or '(nothing)'}")
