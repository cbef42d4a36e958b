"""`make run`: bring the whole service up on this machine and stop every child on Ctrl-C.

Checks PostgreSQL and Redis (says how to start them if down), creates the database if missing,
starts moto (S3) and the Stripe emulator, migrates, bootstraps storage, seeds demo data, then runs
a Celery worker, Celery beat and the web server on 127.0.0.1:8000."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from devtools.processes import Process, ProcessError, port_open, start, stop_all, wait_for_port

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


class Supervisor:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.children: list[Process] = []

    def start(self, name: str, args: list[str]) -> Process:
        proc = start(args, name=name, log=VAR / f"{name}.log", cwd=ROOT, env=self.env)
        self.children.append(proc)
        log(f"started {name} (pid {proc.pid}, log var/{name}.log)")
        return proc

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


def main() -> int:
    env = service_env()
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
        moto = sup.start("moto", [PY, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(MOTO_PORT)])
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
        )
        wait_for_port(MOTO_PORT, proc=moto)
        wait_for_port(STRIPE_PORT, proc=stripe)
        sup.manage("migrate", "--noinput")
        sup.manage("bootstrap_storage")
        sup.manage("seed_demo")
        configure_stripe_webhook(env)
        sup.start(
            "worker",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
            ],
        )
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
            f"  Ctrl-C stops everything.\n",
            flush=True,
        )
        while True:
            for proc in sup.children:
                if proc.poll() is not None:
                    name = proc.name
                    log(f"{name} exited with code {proc.returncode}; see var/{name}.log. Stopping.")
                    return 1
            time.sleep(1)
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
