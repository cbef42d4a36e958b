"""A project-local PostgreSQL cluster and Redis server under a var directory, started detached
and stopped again; one a killed run left running is found by its pid file (devtools/services)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from devtools.processes import free_port, port_open
from devtools.services.binaries import ServiceError, closed_to, log, run_as

START_TIMEOUT = 60.0


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent that will never reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


# --- PostgreSQL ------------------------------------------------------------------------------


@dataclass
class Postgres:
    bin_dir: Path
    home: Path  # <var>/postgres/<major>
    var: Path
    durable: bool = True
    port: int = 0
    run_as: dict = field(default_factory=run_as)

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.home / "postgres.log"

    def _run(self, *args: str, timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
        return subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            env=env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,  # detached: a Ctrl-C in the terminal does not reach it
            **self.run_as,
        )

    def _prepare(self) -> None:
        if not self.run_as:
            self.home.mkdir(parents=True, exist_ok=True)
            return
        # The cluster belongs to the user it runs as, who must be able to enter every directory
        # above it: ours (up to `var`) are opened to others; when one above `var` is closed (a
        # checkout in /root), the cluster lives in the temporary directory instead.
        user, group = self.run_as["user"], self.run_as["group"]
        closed = closed_to(self.var.parent, user)
        if closed:
            digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:12]
            moved = Path(tempfile.gettempdir()) / f"datacollective-postgres-{digest}"
            name = pwd.getpwuid(user).pw_name
            log(f"PostgreSQL runs as {name} (it refuses root), who cannot enter {closed[0]}")
            self.home = moved
        self.home.mkdir(parents=True, exist_ok=True)
        if not closed:
            for path in (self.home, *self.home.parents):
                if path != self.var and not path.is_relative_to(self.var):
                    break
                if not path.stat().st_mode & 0o001:
                    path.chmod(path.stat().st_mode | 0o055)
        if self.home.stat().st_uid != user:
            for path in (self.home, *self.home.rglob("*")):
                os.chown(path, user, group, follow_symlinks=False)

    def running_port(self) -> int | None:
        """The port of a server already running on this cluster (one a killed run left)."""
        pid_file = self.data / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        return port if _alive(pid) and port_open(port) else None

    def start(self) -> bool:
        """Start the server (making the cluster first if needed); False when one was already
        running on this cluster and is used as it is."""
        self._prepare()
        port = self.running_port()
        if port is not None:
            self.port = port
            return False
        if not (self.data / "PG_VERSION").exists():
            shutil.rmtree(self.data, ignore_errors=True)
            result = self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            )
            if result.returncode != 0:
                raise ServiceError(f"initdb failed in {self.data}:\n{result.stdout}{result.stderr}")
            settings = ["listen_addresses = '127.0.0.1'", "unix_socket_directories = ''"]
            if not self.durable:  # a test cluster: speed over crash safety
                settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
            with open(self.data / "postgresql.conf", "a") as conf:
                conf.write("\n# devtools/services/\n" + "\n".join(settings) + "\n")
        self.port = free_port()
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log_file),
            "-o",
            f"-p {self.port}",
            "-w",
            "-t",
            str(int(START_TIMEOUT)),
            "start",
            timeout=START_TIMEOUT + 10,
        )
        if result.returncode != 0 or not port_open(self.port):
            raise ServiceError(
                f"PostgreSQL did not start (pg_ctl exited {result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n{self.log_file}:\n{_tail(self.log_file)}"
            )
        return True

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        if self.running_port() is None:
            return
        result = self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        if result.returncode != 0:
            log(f"pg_ctl stop exited {result.returncode}: {result.stdout}{result.stderr}")


def pg_major(bin_dir: Path) -> str:
    out = subprocess.run(
        [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    if match is None:
        raise ServiceError(f"cannot read the PostgreSQL version from {out!r}")
    return match.group(1)


# --- Redis -----------------------------------------------------------------------------------


@dataclass
class Redis:
    binary: Path
    home: Path  # <var>/redis
    port: int = 0

    @property
    def pid_file(self) -> Path:
        return self.home / "redis.pid"

    @property
    def port_file(self) -> Path:
        return self.home / "port"

    @property
    def log_file(self) -> Path:
        return self.home / "redis.log"

    def _pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def _ping(self, port: int) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=port, socket_connect_timeout=1, socket_timeout=2).ping())
        except redis.RedisError:
            return False

    def running_port(self) -> int | None:
        pid = self._pid()
        try:
            port = int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return port if pid and _alive(pid) and self._ping(port) else None

    def start(self) -> bool:
        self.home.mkdir(parents=True, exist_ok=True)
        port = self.running_port()
        if port is not None:
            self.port = port
            return False
        self.pid_file.unlink(missing_ok=True)
        self.port = free_port()
        self.port_file.write_text(f"{self.port}\n")
        args = [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.home)]
        args += ["--daemonize", "yes", "--pidfile", str(self.pid_file)]
        args += ["--logfile", str(self.log_file)]
        result = subprocess.run(
            args, capture_output=True, text=True, timeout=30, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not (self._pid() and self._ping(self.port)):
            if result.returncode != 0 or time.monotonic() > deadline:
                raise ServiceError(
                    f"redis-server did not start (exit {result.returncode}):\n"
                    f"{result.stdout}{result.stderr}\n{self.log_file}:\n{_tail(self.log_file)}"
                )
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        pid = self._pid()
        if pid is None or not _alive(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _alive(pid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
