"""Issue 31: `make demo` and `make console`, stopped with SIGTERM as a service manager or
`timeout` stops them, leave nothing running: every process they started is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devkit.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
EXIT_TIMEOUT_S = 60.0


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children in their own sessions included)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize(("module", "running_when", "least_children"), [
    ("devkit.demo", "device agent listening", 3),          # broker, gateway, agent
    ("devkit.console_demo", "edge-console: http", 6),      # + two more agents, the console
])
def test_sigterm_stops_everything_the_demo_started(tmp_path: Path, module: str,
                                                   running_when: str, least_children: int) -> None:
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        demo = subprocess.Popen([sys.executable, "-u", "-m", module], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    started: set[int] = set()
    try:
        wait_for(lambda: running_when in log.read_text(), 120, f"{module} running")
        started = wait_for(lambda: (d := descendants(demo.pid)) and len(d) >= least_children
                           and d, 30, "its processes")
        os.kill(demo.pid, signal.SIGTERM)
        demo.wait(EXIT_TIMEOUT_S)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(p) for p in started):
            time.sleep(0.1)
        assert not [p for p in started if alive(p)], log.read_text()[-3000:]
        assert "stopped the" in log.read_text()
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        for pid in (started | descendants(demo.pid)):
            if alive(pid):  # only after a failure: leave nothing behind
                os.kill(pid, signal.SIGKILL)
