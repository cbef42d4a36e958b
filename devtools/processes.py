"""Child processes for the tests, the benchmarks and `make run`: a free port, waiting until a
port accepts connections, starting a command and stopping it again.

    port = free_port()
    with running(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        name="moto",
        log=tmp / "moto.log",
        port=port,
    ) as moto:
        ...  # moto accepts connections here; it is stopped on exit, also on errors

Every child runs in a process group (session) of its own. Stopping it signals the whole group,
so what the child started itself (gunicorn or Celery pool workers, runserver's reloader) stops
with it; and a Ctrl-C in the terminal reaches only the parent, which then stops its children in
order instead of racing them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
# How much of a child's output an error message quotes (the end, where the reason is).
OUTPUT_TAIL = 5000


class ProcessError(RuntimeError):
    """A child exited before it was ready, or was not ready in time."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the kernel's pick; free until someone binds it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(port: int, *, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class Process(subprocess.Popen):
    """A child made by `start`: a `Popen` with a `name` for messages and `output()`."""

    def __init__(self, args: Sequence[str], *, name: str, log: Path | int, **kwargs):
        self.name = name
        self.log = log if isinstance(log, Path) else None
        self._log_start = 0
        self._captured = b""
        popen = dict(stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
        if self.log is None:  # PIPE or DEVNULL
            super().__init__(args, stdout=log, **popen)
            return
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:  # the child has its own descriptor of it
            self._log_start = out.tell()
            super().__init__(args, stdout=out, **popen)

    def output(self) -> str:
        """What the child wrote: from its log file (this run's part), or, for a pipe, what it
        wrote until it exited (a pipe is read once the child has exited, or by `stop`)."""
        if self.log is not None:
            with open(self.log, "rb") as f:
                f.seek(self._log_start)
                return f.read().decode(errors="replace")
        if self.stdout is not None and not self.stdout.closed and self.poll() is not None:
            self._captured += self.stdout.read()
        return self._captured.decode(errors="replace")

    def _wait_collecting(self, timeout: float | None) -> None:
        if self.stdout is not None and not self.stdout.closed:
            # communicate() drains the pipe while waiting: a child blocked on a full pipe
            # would never exit. A retry after TimeoutExpired returns everything.
            out, _ = self.communicate(timeout=timeout)
            self._captured += out or b""
        else:
            self.wait(timeout=timeout)


def start(
    args: Sequence[str],
    *,
    log: Path | int,
    name: str | None = None,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
) -> Process:
    """Start `args` in a process group of its own, stdout and stderr together into `log`: a
    file (appended to), `PIPE` (read with `output()` or returned by `stop`) or `DEVNULL`."""
    return Process(args, name=name or Path(str(args[0])).name, log=log, cwd=cwd, env=env)


def wait_for_port(
    port: int, *, host: str = "127.0.0.1", proc: Process | None = None, timeout: float = 30
) -> None:
    """Return once `host:port` accepts connections. Raises ProcessError, quoting the output of
    `proc`, if `proc` exits first or nothing listens within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise ProcessError(
                f"{proc.name} exited with code {proc.returncode} before {host}:{port} accepted "
                f"connections. Its output:\n{proc.output()[-OUTPUT_TAIL:]}"
            )
        if port_open(port, host=host):
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    message = f"nothing accepts connections on {host}:{port} after {timeout:g}s"
    if proc is not None:
        log = f" (see {proc.log})" if proc.log is not None else ""
        message += f"; {proc.name} is still running{log}"
    raise ProcessError(message)


def _signal_group(proc: Process, sig: int) -> None:
    # The group outlives its leader while a member is left, and its id is not reused until
    # then, so this is safe after the leader has exited too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def stop_all(
    procs: Iterable[Process], *, sig: int = signal.SIGTERM, timeout: float = 10
) -> list[Process]:
    """Send `sig` to the group of every child still running, give them `timeout` seconds in
    all to exit, then SIGKILL the groups of those still running. Whatever else is left in a
    group (a pool worker, a reloader) is killed as well. Returns the children that had to be
    killed."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, sig)
    deadline = time.monotonic() + timeout
    killed = []
    for proc in procs:
        try:
            proc._wait_collecting(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            killed.append(proc)
            _signal_group(proc, signal.SIGKILL)
            proc._wait_collecting(timeout=None)
        _signal_group(proc, signal.SIGKILL)
    return killed


def stop(proc: Process, *, sig: int = signal.SIGTERM, timeout: float = 10) -> str:
    """`stop_all` for one child; returns its output (see `Process.output`)."""
    stop_all([proc], sig=sig, timeout=timeout)
    return proc.output()


@contextlib.contextmanager
def running(
    args: Sequence[str],
    *,
    log: Path | int,
    name: str | None = None,
    port: int | None = None,
    host: str = "127.0.0.1",
    timeout: float = 30,
    stop_timeout: float = 10,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Process]:
    """`start` the command, wait until `port` (if given) accepts connections, and `stop` it on
    exit, also on errors."""
    proc = start(args, log=log, name=name, cwd=cwd, env=env)
    try:
        if port is not None:
            wait_for_port(port, host=host, proc=proc, timeout=timeout)
        yield proc
    finally:
        stop(proc, timeout=stop_timeout)
