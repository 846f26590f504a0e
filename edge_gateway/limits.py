"""The bounds every stream and the whole gateway live within.

`StreamLimits` are the per-connection numbers, `TokenBucket` is the per-connection
message-rate limiter (pure; the caller passes the clock), and `ConnectionSlots` is the
gateway-wide cap on concurrent audio connections, checked before the upgrade.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

MIB = 1024 * 1024
DEFAULT_MAX_BUFFER_BYTES = int(1.4 * MIB)
"""1.4 MiB of PCM: 45.9 s of 16 kHz mono PCM16. The seeds' Kafka budget is 1.5 MiB per event."""
DEFAULT_MAX_FRAME_BYTES = 64 * 1024
HARD_FRAME_CEILING_FACTOR = 4
"""simple-websocket itself closes with 1009 (no JSON) above max_frame_bytes × this factor."""


@dataclass(frozen=True)
class StreamLimits:
    """Per-connection limits, validated by the settings loader."""

    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    idle_timeout_s: float = 10.0
    """Seconds without any client message before the stream ends."""
    session_timeout_s: float = 60.0
    """Seconds from connect after which the stream ends, whatever the client does."""
    max_messages_per_s: float = 100.0
    """Sustained client messages per second (text and binary)."""
    message_burst: int = 200
    """Messages allowed above the sustained rate in one burst."""
    ack_every_frames: int = 10

    def as_dict(self) -> dict[str, float]:
        return {
            "max_buffer_bytes": self.max_buffer_bytes,
            "max_frame_bytes": self.max_frame_bytes,
            "idle_timeout_s": self.idle_timeout_s,
            "session_timeout_s": self.session_timeout_s,
            "max_messages_per_s": self.max_messages_per_s,
        }


class TokenBucket:
    """Allows `burst` events at once and `rate` per second sustained."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._capacity = float(burst)
        self._tokens = float(burst)
        self._updated = now

    def take(self, now: float) -> bool:
        """Spend one token; false when the bucket is empty."""
        if not self.could_take(now):
            return False
        self._tokens -= 1.0
        return True

    def could_take(self, now: float) -> bool:
        """Whether a token is there now (refills, spends nothing)."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
        self._updated = now
        return self._tokens >= 1.0


class ConnectionSlots:
    """A non-blocking counter of concurrent audio connections: refuse, never queue."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._in_use = 0
        self._lock = threading.Lock()
        self._all_free = threading.Condition(self._lock)

    def try_acquire(self) -> bool:
        with self._lock:
            if self._in_use >= self.capacity:
                return False
            self._in_use += 1
            return True

    def release(self) -> None:
        with self._lock:
            if self._in_use <= 0:
                raise RuntimeError("released a connection slot that was not held")
            self._in_use -= 1
            if self._in_use == 0:
                self._all_free.notify_all()

    def wait_all_free(self, timeout_s: float) -> bool:
        """Block until no slot is held (True) or the timeout passes (False)."""
        with self._all_free:
            return self._all_free.wait_for(lambda: self._in_use == 0, timeout_s)

    @property
    def in_use(self) -> int:
        return self._in_use
