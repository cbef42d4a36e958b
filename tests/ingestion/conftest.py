"""A real clamd (Debian clamav-daemon) on a loopback port, with a test signature database that
holds only the EICAR test signature (there are no downloadable signatures here)."""

import os
import shutil
import time

import pytest

from devtools.processes import DEVNULL, free_port, running
from marketplace.ingestion import ClamdClient, ClamdError

# MD5 signature (.hdb: md5:size:name) of the 68-byte EICAR test file.
EICAR_HDB = "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n"


def _clamd_binary() -> str | None:
    return shutil.which("clamd") or next(
        (p for p in ("/usr/sbin/clamd", "/usr/local/sbin/clamd") if os.access(p, os.X_OK)), None
    )


@pytest.fixture(scope="session")
def clamd_url(tmp_path_factory):
    binary = _clamd_binary()
    if binary is None:
        pytest.skip("clamd is not installed (apt-get install clamav-daemon)")
    root = tmp_path_factory.mktemp("clamd")
    (root / "db").mkdir()
    (root / "db" / "test.hdb").write_text(EICAR_HDB)
    port = free_port()
    config = root / "clamd.conf"
    config.write_text(
        "\n".join(
            [
                f"DatabaseDirectory {root / 'db'}",
                "Foreground yes",
                f"TCPSocket {port}",
                "TCPAddr 127.0.0.1",
                f"PidFile {root / 'clamd.pid'}",
                f"LogFile {root / 'clamd.log'}",
                "StreamMaxLength 25M",
                "MaxThreads 4",
                "",
            ]
        )
    )
    url = f"tcp://127.0.0.1:{port}"
    client = ClamdClient(url, timeout=5)
    deadline = time.monotonic() + 60
    # Ready means answering PING, not merely an open port.
    with running([binary, "-c", str(config)], name="clamd", log=DEVNULL) as process:
        while True:
            try:
                if client.ping():
                    break
            except ClamdError:
                pass
            if process.poll() is not None:
                log = (root / "clamd.log").read_text() if (root / "clamd.log").exists() else ""
                pytest.fail(f"clamd exited with {process.returncode}: {log[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("clamd did not answer PING within 60 s")
            time.sleep(0.2)
        yield url
