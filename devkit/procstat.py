"""CPU time, RSS and thread counts of processes, read from /proc (Linux)."""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcSample:
    cpu_s: float
    """User + system CPU seconds so far."""
    rss_bytes: int
    peak_rss_bytes: int
    threads: int
    pss_bytes: int = 0
    """Proportional set size: shared pages split between the processes sharing them."""


def stat_fields(stat_path: Path) -> list[str]:
    """The fields of a /proc/PID/stat or /proc/PID/task/TID/stat file after the command
    name (which may hold spaces): index 7 is minflt, 11 utime, 12 stime (proc(5), from 3)."""
    stat = stat_path.read_text()
    return stat[stat.rindex(")") + 2:].split()


def cpu_times(stat_path: Path) -> tuple[float, float]:
    """User and system CPU seconds so far of a process or thread (its stat file)."""
    fields = stat_fields(stat_path)
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS


def sample(pid: int) -> ProcSample:
    user_s, system_s = cpu_times(Path(f"/proc/{pid}/stat"))
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":" in line)
    return ProcSample(cpu_s=user_s + system_s,
                      rss_bytes=_kib(status["VmRSS"]), peak_rss_bytes=_kib(status["VmHWM"]),
                      threads=int(status["Threads"]), pss_bytes=_pss(pid))


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return _kib(line.split(":", 1)[1])
    except OSError:
        pass
    return 0


def sample_total(pids: list[int]) -> ProcSample:
    """The sum over `pids` (e.g. a gunicorn arbiter and its worker)."""
    samples = [sample(pid) for pid in pids]
    return ProcSample(sum(s.cpu_s for s in samples), sum(s.rss_bytes for s in samples),
                      sum(s.peak_rss_bytes for s in samples), sum(s.threads for s in samples),
                      sum(s.pss_bytes for s in samples))


def _kib(value: str) -> int:
    return int(value.split()[0]) * 1024


class Watch:
    """CPU seconds and peak RSS / PSS of `pids` (summed) over a `with` block, sampled every
    `every_s` on a thread. A process that exits meanwhile counts up to its last sample."""

    def __init__(self, pids: list[int], every_s: float = 0.2) -> None:
        self.pids = pids
        self.every_s = every_s
        self.peak_rss = 0
        self.peak_pss = 0
        self.cpu_s = 0.0
        self.threads = 0
        self._first: ProcSample | None = None
        self._last: ProcSample | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watch:
        self._first = self._last = sample_total(self.pids)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._done.wait(self.every_s):
            self._take()

    def _take(self) -> None:
        with contextlib.suppress(OSError, KeyError, ValueError, IndexError):
            now = sample_total(self.pids)
            self._last = now
            # One process: its own high-water mark catches peaks between samples. Several:
            # their high-water marks were not simultaneous, so only sampled sums count.
            rss = max(now.rss_bytes, now.peak_rss_bytes) if len(self.pids) == 1 else now.rss_bytes
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, now.pss_bytes)
            self.threads = now.threads

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self._take()
        assert self._first is not None and self._last is not None
        self.cpu_s = self._last.cpu_s - self._first.cpu_s
