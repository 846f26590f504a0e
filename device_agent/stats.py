"""The agent's counters, shared by its threads, logged and written as JSON."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path


@dataclass
class AgentStats:
    frames: int = 0
    """Audio frames (samples) captured."""
    xruns: int = 0
    gaps: int = 0
    reopens: int = 0
    open_failures: int = 0
    queue_overflows: int = 0
    segments_started: int = 0
    segments_sent: int = 0
    """Delivery attempts."""
    segments_acked: int = 0
    segments_retried: int = 0
    segments_rejected: int = 0
    """Refused by the gateway for a reason a retry cannot fix, after max_rejections tries
    (these are quarantined too)."""
    segments_dropped: int = 0
    """Dropped by the spool's limits (full or too old)."""
    segments_duplicate: int = 0
    """Delivered as a repeat: the gateway had it already and sent its first receipt."""
    segments_quarantined: int = 0
    """Failed the same non-transient way too often; moved out of the way."""
    thread_errors: int = 0
    """Unexpected exceptions caught by a worker thread's supervisor loop (logged in full)."""
    silence_seconds_skipped: float = 0.0
    reconnects: int = 0
    spool_depth: int = 0
    spool_bytes: int = 0
    spool_write_failures: int = 0
    """Segments the directory spool could not write to disk (kept in memory instead)."""
    mic_open: bool = False
    capture_format: str = ""
    """As opened, e.g. "48000 Hz, 2 ch, S16_LE"; empty while the microphone is closed."""
    last_frame_monotonic: float = 0.0
    last_speech_monotonic: float = 0.0
    """When speech last started a segment (0: not since start)."""
    last_delivery_monotonic: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False,
                                  compare=False)

    def add(self, **increments: float) -> None:
        with self._lock:
            for name, amount in increments.items():
                setattr(self, name, getattr(self, name) + amount)

    def set(self, **values: object) -> None:
        with self._lock:
            for name, value in values.items():
                setattr(self, name, value)

    def snapshot(self) -> AgentStats:
        """A consistent copy, typed like the original, that no thread changes."""
        with self._lock:
            return replace(self)

    def as_dict(self) -> dict[str, object]:
        """The counters by name (the status log line and file)."""
        copy = self.snapshot()
        return {f.name: getattr(copy, f.name) for f in fields(copy) if f.init}


def write_status_file(path: Path, counters: dict[str, object]) -> None:
    """Atomically replace `path` with the counters as JSON."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps({**counters, "written_at": time.time()}))
    os.replace(tmp, path)
