"""`make run`: bring the whole service up on this machine and stop every child on Ctrl-C.

Checks PostgreSQL and Redis (says how to start them if down), creates the database if missing,
starts moto (S3) and the Stripe emulator, migrates, bootstraps storage, seeds demo data, then runs
one Celery worker per queue (default, ingestion, accounting, outbound), Celery beat and the web
server on 127.0.0.1:8000.

A child that exits is named with why (exit code or signal) and restarted after a backoff (moto
gets its bucket again, the emulator its webhook endpoint); one that keeps crashing right after
each start ends the run with a clear message. Ctrl-C stops every child."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from devtools.processes import (
    OUTPUT_TAIL,
    Process,
    ProcessError,
    port_open,
    start,
    stop_all,
    wait_for_port,
)
from devtools.services import ensure as ensure_services

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PY = sys.executable

WEB_PORT = int(os.environ.get("WEB_PORT", "8000"))
MOTO_PORT = int(os.environ.get("MOTO_PORT", "9100"))
STRIPE_PORT = int(os.environ.get("STRIPE_EMULATOR_PORT", "8420"))

START_HINTS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": (
        'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
        "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
    ),
}


def log(msg: str) -> None:
    print(f"[run] {msg}", flush=True)


def service_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    env.setdefault("DJANGO_DEBUG", "1")
    env.setdefault("AWS_S3_ENDPOINT_URL", f"http://127.0.0.1:{MOTO_PORT}")
    env.setdefault("STRIPE_API_BASE", f"http://127.0.0.1:{STRIPE_PORT}")
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{WEB_PORT}")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def check_dependencies(env: dict[str, str]) -> None:
    import psycopg
    import redis

    db_url = env.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/datacollective")
    parsed = urlparse(db_url)
    dbname = parsed.path.lstrip("/") or "datacollective"
    problems = []
    try:
        conn = psycopg.connect(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            user=parsed.username or "postgres",
            password=parsed.password,
            dbname="postgres",
            connect_timeout=3,
            autocommit=True,
        )
    except psycopg.OperationalError as exc:
        problems.append(("PostgreSQL", f"{parsed.hostname}:{parsed.port or 5432}", exc))
    else:
        with conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{dbname}"')
                log(f"created database {dbname}")
    redis_url = env.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        problems.append(("Redis", redis_url, exc))
    if problems:
        for name, where, exc in problems:
            print(f"[run] {name} is not reachable at {where}: {exc}", file=sys.stderr)
            print(f"[run]   start it with: {START_HINTS[name]}", file=sys.stderr)
        raise SystemExit(1)


# One worker per queue (config/celery.py routes every task to its workload's queue), so a long
# ingestion pass never holds up a payout or an e-mail; pool processes per worker. Ingestion is
# long and I/O bound: two passes side by side; the others are short tasks.
WORKER_CONCURRENCY = {"default": 1, "ingestion": 2, "accounting": 1, "outbound": 1}


def _setting(env: dict[str, str], name: str) -> str:
    """A setting as the workers' Django settings read it: the environment, else the developer's
    `.env` beside manage.py (so `-Q` names the queues the workers' routes send to)."""
    if env.get(name):
        return env[name]
    dotenv = ROOT / ".env"
    for line in dotenv.read_text().splitlines() if dotenv.is_file() else []:
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key.strip() == name:
            return value.strip().strip("'\"")
    return ""


def worker_commands(env: dict[str, str]) -> list[tuple[str, list[str]]]:
    """(name, argv) of the Celery workers `make run` starts: `worker-<workload>` on its queue,
    named after the default queue (CELERY_TASK_DEFAULT_QUEUE) as config/celery.py names them."""
    from config.celery import workload_queues

    queues = workload_queues(
        _setting(env, "CELERY_TASK_DEFAULT_QUEUE") or "datacollective",
        _setting(env, "INGESTION_QUEUE"),
    )
    return [
        (
            f"worker-{workload}",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "--queues",
                queues[workload],
                "--concurrency",
                str(concurrency),
                # Unique node names: several workers run on this host.
                "--hostname",
                f"{workload}@%h",
            ],
        )
        for workload, concurrency in WORKER_CONCURRENCY.items()
    ]


class GaveUp(RuntimeError):
    """A child kept crashing right after each restart."""


@dataclass
class Child:
    name: str
    args: list[str]
    proc: Process
    started_at: float
    on_restart: Callable[[Process], None] | None = None
    fast_crashes: int = 0  # consecutive exits within fast_crash_seconds of starting
    restart_at: float | None = None  # when an exited child is started again


def exit_reason(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


class Supervisor:
    """Starts the children and keeps them up: a child that exits is named with why (exit code
    or signal) and started again after a backoff that doubles with each crash that follows a
    start closely (capped); after `max_fast_crashes` such crashes in a row it gives up (GaveUp)
    with the end of the child's log. Timings come from the environment (RUN_* below)."""

    def __init__(self, env: dict[str, str], *, log_dir: Path = VAR):
        self.env = env
        self.log_dir = log_dir
        self.backoff = float(env.get("RUN_RESTART_BACKOFF_SECONDS", "1"))
        self.backoff_max = float(env.get("RUN_RESTART_BACKOFF_MAX_SECONDS", "30"))
        self.fast_crash_seconds = float(env.get("RUN_FAST_CRASH_SECONDS", "10"))
        self.max_fast_crashes = int(env.get("RUN_MAX_FAST_CRASHES", "5"))
        self.watched: dict[str, Child] = {}
        self.children: list[Process] = []  # every process started, for stop_all

    def _spawn(self, name: str, args: list[str]) -> Process:
        proc = start(args, name=name, log=self.log_dir / f"{name}.log", cwd=ROOT, env=self.env)
        self.children.append(proc)
        return proc

    def start(
        self, name: str, args: list[str], *, on_restart: Callable[[Process], None] | None = None
    ) -> Process:
        proc = self._spawn(name, args)
        self.watched[name] = Child(name, args, proc, time.monotonic(), on_restart)
        log(f"started {name} (pid {proc.pid}, log {self._log_name(name)})")
        return proc

    def _log_name(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)

    def check(self) -> None:
        """One pass over the children: note exits, restart those whose backoff has passed."""
        now = time.monotonic()
        for child in self.watched.values():
            if child.restart_at is None:
                returncode = child.proc.poll()
                if returncode is None:
                    continue
                fast = now - child.started_at < self.fast_crash_seconds
                child.fast_crashes = child.fast_crashes + 1 if fast else 0
                if child.fast_crashes >= self.max_fast_crashes:
                    raise GaveUp(
                        f"{child.name} {exit_reason(returncode)}; it crashed "
                        f"{child.fast_crashes} times in a row within "
                        f"{self.fast_crash_seconds:g}s of starting, giving up. See "
                        f"{self._log_name(child.name)}; its last lines:\n"
                        + child.proc.output()[-OUTPUT_TAIL // 5 :]
                    )
                delay = min(self.backoff_max, self.backoff * 2**child.fast_crashes)
                child.restart_at = now + delay
                log(
                    f"{child.name} {exit_reason(returncode)} (see {self._log_name(child.name)}); "
                    f"restarting it in {delay:g}s"
                )
            elif now >= child.restart_at:
                child.proc = self._spawn(child.name, child.args)
                child.started_at, child.restart_at = time.monotonic(), None
                log(f"restarted {child.name} (pid {child.proc.pid})")
                if child.on_restart is not None:
                    try:
                        child.on_restart(child.proc)
                    except (ProcessError, SystemExit, OSError) as exc:
                        log(f"after restarting {child.name}: {exc}")

    def run_forever(self, interval: float = 0.5) -> None:
        """Watch until Ctrl-C (KeyboardInterrupt) or GaveUp."""
        while True:
            self.check()
            time.sleep(interval)

    def manage(self, *args: str) -> None:
        result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=self.env)
        if result.returncode != 0:
            raise SystemExit(f"[run] manage.py {' '.join(args)} failed ({result.returncode})")

    def stop_all(self) -> None:
        # A second Ctrl-C (or the SIGINT make, timeout or a terminal forwards again) must not
        # interrupt the cleanup and leave children behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for proc in stop_all(reversed(self.children), timeout=15):
            log(f"{proc.name} did not stop in time; killed it")
        log("all processes stopped")


def configure_stripe_webhook(env: dict[str, str]) -> None:
    import requests

    response = requests.post(
        f"{env['STRIPE_API_BASE']}/_config/webhooks/datacollective",
        data={
            "url": f"http://127.0.0.1:{WEB_PORT}/webhooks/stripe",
            "secret": env.get("STRIPE_WEBHOOK_SECRET", "whsec_datacollective_local"),
        },
        timeout=10,
    )
    response.raise_for_status()
    log("Stripe emulator delivers webhooks to /webhooks/stripe")


def interrupt_on_ctrl_c() -> None:
    """Ctrl-C raises KeyboardInterrupt even when this process was started with SIGINT ignored
    (a shell starts background commands so, and the ignore is inherited across exec)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def main() -> int:
    interrupt_on_ctrl_c()
    # PostgreSQL and Redis where configured, else project-local ones under var/ (stopped at exit)
    env = ensure_services(service_env())
    check_dependencies(env)
    for port, what in ((WEB_PORT, "web"), (MOTO_PORT, "moto"), (STRIPE_PORT, "Stripe emulator")):
        if port_open(port):
            print(
                f"[run] port {port} ({what}) is already in use; is another `make run` up?",
                file=sys.stderr,
            )
            return 1

    sup = Supervisor(env)
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:

        def moto_restarted(proc: Process) -> None:
            # moto keeps the store in memory: the bucket (and every object) is gone.
            wait_for_port(MOTO_PORT, proc=proc)
            sup.manage("bootstrap_storage")
            log("moto lost its stored objects; the bucket was created again")

        def stripe_restarted(proc: Process) -> None:
            wait_for_port(STRIPE_PORT, proc=proc)
            configure_stripe_webhook(env)

        moto = sup.start(
            "moto",
            [PY, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(MOTO_PORT)],
            on_restart=moto_restarted,
        )
        stripe = sup.start(
            "stripe",
            [
                PY,
                "-m",
                "devtools.stripe_emulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(STRIPE_PORT),
            ],
            on_restart=stripe_restarted,
        )
        wait_for_port(MOTO_PORT, proc=moto)
        wait_for_port(STRIPE_PORT, proc=stripe)
        sup.manage("migrate", "--noinput")
        sup.manage("bootstrap_storage")
        sup.manage("seed_demo")
        configure_stripe_webhook(env)
        for name, args in worker_commands(env):
            sup.start(name, args)
        sup.start(
            "beat",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(VAR / "celerybeat-schedule"),
            ],
        )
        web = sup.start(
            "web", [PY, "manage.py", "runserver", f"127.0.0.1:{WEB_PORT}", "--noreload"]
        )
        wait_for_port(WEB_PORT, proc=web, timeout=60)
        base = f"http://127.0.0.1:{WEB_PORT}"
        print(
            "\n"
            f"  Data Collective is up.\n"
            f"  API:        {base}/api   (docs {base}/api/docs, schema {base}/api/schema)\n"
            f"  Admin:      {base}/admin/\n"
            f"  Health:     {base}/healthz\n"
            f"  S3 (moto):  http://127.0.0.1:{MOTO_PORT}   Stripe emulator: http://127.0.0.1:{STRIPE_PORT}\n"
            f"  Demo credentials: var/demo.env   Logs: var/*.log\n"
            f"  A child that exits is restarted; Ctrl-C stops everything.\n",
            flush=True,
        )
        sup.run_forever()
    except GaveUp as exc:
        print(f"[run] {exc}", file=sys.stderr)
        return 1
    except ProcessError as exc:
        print(f"[run] {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        log("stopping")
        return 0
    finally:
        sup.stop_all()


if __name__ == "__main__":
    sys.exit(main())
