"""`make run` refuses to start, naming the dependency, when PostgreSQL or Redis is down."""

import os
import subprocess
import sys

from devtools.processes import free_port
from tests.servers import ROOT


def test_run_names_unreachable_postgres_and_redis_and_exits_non_zero():
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/datacollective",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        WEB_PORT=str(free_port()),
        MOTO_PORT=str(free_port()),
        STRIPE_EMULATOR_PORT=str(free_port()),
    )
    result = subprocess.run(
        [sys.executable, "devtools/run.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "PostgreSQL is not reachable" in result.stderr
    assert "Redis is not reachable" in result.stderr
    assert "pg_ctlcluster" in result.stderr and "redis-server" in result.stderr
    assert "started" not in result.stdout  # nothing was started
