"""Run a command with PostgreSQL and Redis reachable (`make test` runs pytest through it).

    python devtools/with_services.py [--var DIR] [--binaries auto|system|pip] -- COMMAND ...

A server that answers at the configured address is used; for one that does not, a project-local
instance is started under DIR (default var/test; see devtools/services/), the command runs
with the environment pointing at it, and it is stopped when the command ends, also after a
Ctrl-C or a SIGTERM. Exits with the command's exit code."""

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from devtools.services import BINARY_SOURCES, VAR, LocalServices, ServiceError, start_missing


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var", type=Path, default=VAR / "test", help="default: var/test")
    parser.add_argument("--binaries", choices=BINARY_SOURCES, default="auto")
    if "--" not in argv:
        parser.error("give the command after --")
    split = argv.index("--")
    command = argv[split + 1 :]
    if not command:
        parser.error("give the command after --")
    return parser.parse_args(argv[:split]), command


def main(argv: list[str] | None = None) -> int:
    args, command = parse(sys.argv[1:] if argv is None else argv)
    services = LocalServices()
    child: subprocess.Popen | None = None

    def on_term(signum, frame):
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        # A test cluster: fsync off (durable=False); its data is thrown away anyway.
        start_missing(
            os.environ, var=args.var, binaries=args.binaries, durable=False, services=services
        )
        child = subprocess.Popen(command, env={**os.environ, **services.env})
        while True:
            try:
                returncode = child.wait()
                break
            except KeyboardInterrupt:
                # The terminal sent the Ctrl-C to the command too: let it finish its cleanup.
                continue
        return returncode if returncode >= 0 else 128 - returncode
    except ServiceError as exc:
        print(f"[services] {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        # A second Ctrl-C must not interrupt the stopping and leave a server behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        services.stop()


if __name__ == "__main__":
    sys.exit(main())
