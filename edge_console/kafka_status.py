"""Whether the console can read Kafka, and since when. Pure: the follower reports each
read, the routes ask.

While the console cannot read its topics, what it shows is as of the last moment it could:
no device turns `offline` through the console's own outage, and once Kafka is readable
again each device has its full offline allowance, counted from then, to be heard from.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class KafkaState:
    readable: bool
    since_ms: int
    """Readable: since when, after the last outage (or the first read). Not readable: the
    last moment the console could read (or when it started, if it never could)."""
    problem: str
    """Why it cannot read; empty while it can."""

    def as_of_ms(self, now_ms: int) -> int:
        """The time device states are judged at: now, or when Kafka was last readable."""
        return now_ms if self.readable else min(now_ms, self.since_ms)

    def readable_since_ms(self) -> int:
        """No report is older than this for the offline rule (0 while not readable)."""
        return self.since_ms if self.readable else 0

    def message(self) -> dict[str, object]:
        return {"readable": self.readable, "since_ms": self.since_ms, "problem": self.problem}


class KafkaStatus:
    def __init__(self, started_ms: int) -> None:
        self._lock = threading.Lock()
        self._state = KafkaState(False, started_ms, "not read yet")
        self._last_read_ms = started_ms

    def read(self, at_ms: int) -> None:
        """The console just read from Kafka (a record, or an answer to a probe)."""
        with self._lock:
            self._last_read_ms = at_ms
            if not self._state.readable:
                self._state = KafkaState(True, at_ms, "")

    def failed(self, problem: str) -> None:
        """The console could not read Kafka: `problem` says why."""
        with self._lock:
            self._state = KafkaState(False, self._last_read_ms, problem)

    @property
    def state(self) -> KafkaState:
        with self._lock:
            return self._state
