"""Run the emulator as a subprocess on a free loopback port (for tests and tools).

with run_emulator() as emulator:
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": emulator.url})
"""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunningEmulator:
    url: str
    process: subprocess.Popen
    log: object  # the file receiving the process's stdout and stderr

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


def free_port(host="127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _wait_until_listening(emulator, host, port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if emulator.process.poll() is not None:
            break
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(
        f"Stripe emulator not listening on {host}:{port} after {timeout}s "
        f"(exit code {emulator.process.poll()}). Its output:\n{emulator.output()}"
    )


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
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        emulator = RunningEmulator(f"http://{host}:{port}", process, log)
        try:
            _wait_until_listening(emulator, host, port, timeout)
            yield emulator
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
