"""A TCP proxy in front of a real local server, for fault tests: it forwards every request, and
from a moment on (`lose_answers()`, or after the `lose_after`-th request containing `marker`)
throws the server's answers away. The server acts (Stripe makes the transfer) while the caller
waits for an answer that never comes: the worst case for idempotency."""

import socket
import threading


class AnswerLosingProxy:
    def __init__(self, upstream_port: int, *, marker: bytes = b"", lose_after: int | None = None):
        self.upstream_port = upstream_port
        self.marker = marker
        self.lose_after = lose_after
        self.seen = 0  # requests containing `marker` forwarded so far
        self.losing = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._sockets = [self.listener]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def lose_answers(self) -> None:
        self.losing.set()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                return
            self._sockets += [conn, upstream]
            threading.Thread(target=self._requests, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, conn), daemon=True).start()

    def _requests(self, src, dst):
        try:
            while chunk := src.recv(65536):
                if self.marker and self.marker in chunk:
                    with self._lock:
                        self.seen += chunk.count(self.marker)
                        if self.lose_after is not None and self.seen >= self.lose_after:
                            self.losing.set()
                dst.sendall(chunk)
        except OSError:
            return

    def _answers(self, src, dst):
        try:
            while chunk := src.recv(65536):
                if not self.losing.is_set():
                    dst.sendall(chunk)
        except OSError:
            return

    def close(self):
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass
