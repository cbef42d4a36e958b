"""Real local servers for the tests: moto (S3) in-process on a free port. The Stripe emulator
runs as a subprocess via devtools.stripe_emulator.process.run_emulator; free ports, waiting for
a port and child processes come from devtools.processes."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_moto():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"
