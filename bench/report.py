"""Where a benchmark's Markdown report goes: `bench/results/NAME-STAMP.md`, printed too."""

from __future__ import annotations

import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results")


def write_report(name: str, report: str, out: Path = RESULTS, stamp: str | None = None) -> Path:
    """Write `report` as `out/name-stamp.md` (stamp: the local time to the second), print
    it and where it went, and return the path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}-{stamp or time.strftime('%Y%m%d-%H%M%S')}.md"
    path.write_text(report)
    print(report)
    print(f"written to {path}")
    return path
