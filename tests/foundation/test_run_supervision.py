"""D10, `make run` keeps its children up: the supervisor of devtools/run.py with small stand-in
children (real processes): a child that exits is named with why (exit code or signal) and
restarted after a backoff; one that keeps crashing right after each start makes it give up with
a clear message; Ctrl-C still stops every child."""

import os
import signal
import sys
import textwrap
import time

import pytest

from devtools.processes import PIPE, start, stop, stop_all
from devtools.run import GaveUp, Supervisor
from tests.servers import ROOT

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


@pytest.fixture
def supervisor(tmp_path):
    sup = Supervisor(
        dict(
            os.environ,
            RUN_RESTART_BACKOFF_SECONDS="0.05",
            RUN_RESTART_BACKOFF_MAX_SECONDS="0.5",
            RUN_FAST_CRASH_SECONDS="5",
            RUN_MAX_FAST_CRASHES="3",
        ),
        log_dir=tmp_path,
    )
    yield sup
    stop_all(sup.children, timeout=10)


def check_until(sup: Supervisor, predicate, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sup.check()
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("the supervisor did not get there in time")


def test_a_killed_child_is_named_with_its_signal_and_restarted(supervisor, capsys):
    other = supervisor.start("beat", SLEEPER)
    victim = supervisor.start("worker", SLEEPER)
    os.killpg(victim.pid, signal.SIGKILL)  # the whole group, as an OOM kill or kill -9 would

    check_until(supervisor, lambda: supervisor.watched["worker"].proc is not victim)
    out = capsys.readouterr().out
    assert "worker was killed by signal SIGKILL" in out
    assert "restarting it in" in out and "restarted worker" in out
    restarted = supervisor.watched["worker"].proc
    assert restarted.poll() is None and restarted.pid != victim.pid
    assert other.poll() is None  # the others were left alone


def test_an_exit_code_is_reported_and_the_child_restarted(supervisor, capsys):
    marker = supervisor.log_dir / "runs"
    supervisor.start(
        "stripe",
        [
            sys.executable,
            "-c",
            f"open({str(marker)!r}, 'a').write('x'); import time; time.sleep(0.2); raise SystemExit(3)",
        ],
    )
    check_until(supervisor, lambda: marker.exists() and len(marker.read_text()) >= 2)
    assert "stripe exited with code 3" in capsys.readouterr().out


def test_repeated_fast_crashes_give_up_with_a_clear_message(supervisor, capsys):
    supervisor.start(
        "moto", [sys.executable, "-c", "print('address already in use'); raise SystemExit(1)"]
    )
    with pytest.raises(GaveUp) as raised:
        check_until(supervisor, lambda: False)
    message = str(raised.value)
    assert "moto exited with code 1" in message
    assert "3 times in a row" in message and "giving up" in message
    assert "address already in use" in message  # the end of its log, where the reason is
    # Backoff between the attempts: it doubled after each fast crash.
    delays = [
        float(line.rsplit(" ", 1)[-1].rstrip("s"))
        for line in capsys.readouterr().out.splitlines()
        if "restarting it in" in line
    ]
    assert delays == sorted(delays) and delays[-1] > delays[0]


SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from devtools.run import Supervisor, interrupt_on_ctrl_c, log
    interrupt_on_ctrl_c()  # as main() does
    sup = Supervisor(dict(os.environ), log_dir=Path(sys.argv[1]))
    try:
        for name in ("moto", "stripe", "worker", "beat"):
            proc = sup.start(name, [sys.executable, "-c", "import time; time.sleep(600)"])
            print("PID", proc.pid, flush=True)
        sup.run_forever(interval=0.05)
    except KeyboardInterrupt:
        log("stopping")
    finally:
        sup.stop_all()
    """
)


def test_ctrl_c_stops_every_child(tmp_path):
    # Started with SIGINT ignored, as a shell starts a background command (the ignore survives
    # exec): Ctrl-C must still stop everything.
    ignoring = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "os.execv(sys.executable, [sys.executable, '-c', *sys.argv[1:]])"
    )
    runner = start(
        [sys.executable, "-c", ignoring, SCRIPT, str(tmp_path)],
        name="supervisor",
        log=PIPE,
        cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(pids) < 4 and time.monotonic() < deadline:
            line = runner.stdout.readline().decode()
            if line.startswith("PID"):
                pids.append(int(line.split()[1]))
        assert len(pids) == 4
        assert all(alive(pid) for pid in pids)
        runner.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C
        runner.wait(timeout=60)
        output = runner.stdout.read().decode()
    finally:
        stop(runner, timeout=10)
    assert runner.returncode == 0
    assert "all processes stopped" in output
    assert not any(alive(pid) for pid in pids)
