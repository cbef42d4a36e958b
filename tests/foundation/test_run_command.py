"""`make run` refuses to start, naming the dependency, when the PostgreSQL or Redis it is
configured with elsewhere is down (on this machine it starts local ones instead:
tests/foundation/test_embedded_services.py)."""

import os
import subprocess
import sys

from devtools.processes import free_port
from tests.servers import ROOT


def test_run_names_unreachable_postgres_and_redis_and_exits_non_zero():
    env = dict(
        os.environ,
        # .invalid names never resolve (RFC 6761): nothing is contacted.
        DATABASE_URL="postgres://postgres@db.invalid:5432/datacollective",
        REDIS_URL="redis://cache.invalid:6379/0",
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
