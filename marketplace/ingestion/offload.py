"""The member work that can run beside the tar walk: each member's SHA-256 and its personal-data
scan. Both spend their time in C code that releases the GIL (hashlib for buffers over 2 KiB, RE2
while it matches), so on a thread of their own they overlap with the walk's format checks, which
hold it (bytes.translate, bytes.count), while a third thread decompresses (gzstream._Producer).

Calls run one at a time in the order they were made, so every result (digests, personal-data
counts and examples, budgets, crash findings) equals a sequential run's. Small members are
worked on inline: a hand-off per tiny member would cost more than it saves; before an inline
call the thread's backlog is waited for, which keeps the order."""

import queue
import threading
from collections.abc import Callable

_STOP = object()


class Offload:
    """Runs calls in order: on a helper thread while `member(threaded=True)` is in force, inline
    otherwise. At most `depth` calls wait for the thread (each holds one block of member data,
    so memory stays bounded). State that the calls change may only be read after `close()`."""

    def __init__(self, *, depth: int = 8):
        self._depth = depth
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._threaded = False
        self._backlog = False
        self._error: BaseException | None = None

    def member(self, *, threaded: bool) -> None:
        """Where the next member's calls run."""
        if not threaded and self._backlog:
            self._queue.join()
            self._backlog = False
            self._raise()
        self._threaded = threaded

    def call(self, fn: Callable, *args) -> None:
        if not self._threaded:
            fn(*args)
            return
        if self._thread is None:
            self._queue = queue.Queue(self._depth)
            self._thread = threading.Thread(target=self._run, name="ingestion-members", daemon=True)
            self._thread.start()
        self._raise()
        self._backlog = True
        self._queue.put((fn, args))

    def close(self) -> None:
        """Runs what is left and stops the thread (also on the way out of an error)."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
            self._backlog = False

    def check(self) -> None:
        """Re-raises the exception of a call that failed on the thread, if one did (the calls
        guard against their own failures: this is for the unexpected)."""
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                if self._error is None:  # after a failure the results are void: skip the rest
                    fn, args = item
                    try:
                        fn(*args)
                    except BaseException as exc:  # handed to the walk's thread
                        self._error = exc
            finally:
                self._queue.task_done()
