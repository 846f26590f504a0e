"""CPU time, RSS and thread counts of processes, read from /proc (Linux)."""

from __future__ import annotations

import os
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


def sample(pid: int) -> ProcSample:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":" in line)
    return ProcSample(cpu_s=(utime + stime) / _TICKS,
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
