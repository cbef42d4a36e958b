"""Run the emulator as a subprocess on a free loopback port (for tests and tools).

with run_emulator() as emulator:
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": emulator.url})
"""

import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devtools.processes import Process, free_port, running

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunningEmulator:
    url: str
    process: Process

    def output(self) -> str:
        return self.process.output()


@contextlib.contextmanager
def run_emulator(host="127.0.0.1", port=None, timeout=20.0):
    """Start `python -m devtools.stripe_emulator`, wait until it accepts connections, and stop it
    (SIGTERM, then SIGKILL after 10 s) on exit. Output goes to a temporary file, not a pipe, so
    a chatty emulator never blocks."""
    port = port or free_port(host)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable,
        "-m",
        "devtools.stripe_emulator",
        "--host",
        host,
        "--port",
        str(port),
    ]
    with (
        tempfile.TemporaryDirectory(prefix="stripe-emulator-") as tmp,
        running(
            command,
            name="Stripe emulator",
            log=Path(tmp) / "emulator.log",
            port=port,
            host=host,
            timeout=timeout,
            env=env,
        ) as process,
    ):
        yield RunningEmulator(f"http://{host}:{port}", process)
