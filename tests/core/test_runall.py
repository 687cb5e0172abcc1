"""`make run`'s supervisor: Ctrl-C stops every child gracefully, and one child
dying stops the rest with a failing exit status. Real processes and signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

# A child that reports its pid and, on SIGTERM, says so and exits cleanly.
POLITE = textwrap.dedent(
    """
    import os, signal, sys, time
    def bye(*_):
        print("graceful stop", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, bye)
    print("pid", os.getpid(), flush=True)
    while True:
        time.sleep(0.1)
    """
)
CRASHING = "import time; time.sleep(1); print('crashing', flush=True); raise SystemExit(3)"

SUPERVISOR = textwrap.dedent(
    """
    import os, sys
    from csplatform.runall import supervise
    py = sys.executable
    children = {"web": [py, "-c", sys.argv[1]], "worker": [py, "-c", sys.argv[2]]}
    sys.exit(supervise(children, env=dict(os.environ)))
    """
)


def start(web: str, worker: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, web, worker],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def child_pids(proc: subprocess.Popen, expected: int) -> tuple[dict[str, int], list[str]]:
    pids: dict[str, int] = {}
    lines: list[str] = []
    while len(pids) < expected:
        line = proc.stdout.readline()
        assert line, "supervisor ended before its children reported: " + "".join(lines)
        lines.append(line)
        name, _, rest = line.partition("|")
        if rest.strip().startswith("pid "):
            pids[name.strip()] = int(rest.split()[1])
    return pids, lines


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_every_child_gracefully_and_exits_zero(signum):
    proc = start(POLITE, POLITE)
    pids, _ = child_pids(proc, 2)
    assert all(alive(pid) for pid in pids.values())
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert output.count("graceful stop") == 2  # each child got one SIGTERM and finished
    assert "all processes stopped" in output
    assert not any(alive(pid) for pid in pids.values())


def test_a_child_that_dies_stops_the_others_and_fails():
    proc = start(POLITE, CRASHING)
    pids, _ = child_pids(proc, 1)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "worker exited with status 3; stopping the rest" in output
    assert "graceful stop" in output
    deadline = time.monotonic() + 5
    while alive(pids["web"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pids["web"])


STUBBORN = textwrap.dedent(
    """
    import os, signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("pid", os.getpid(), flush=True)
    while True:
        time.sleep(0.1)
    """
)


def test_a_second_ctrl_c_kills_a_child_that_ignores_the_first():
    proc = start(STUBBORN, POLITE)
    pids, _ = child_pids(proc, 2)
    proc.send_signal(signal.SIGINT)
    line = "..."
    while "stopping" not in line:
        line = proc.stdout.readline()
        assert line, "the supervisor ended before it began stopping"
    proc.send_signal(signal.SIGINT)
    # Without the second signal the supervisor would wait its full grace period.
    output, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert "web did not stop in time; killing it" in output
    assert not any(alive(pid) for pid in pids.values())
