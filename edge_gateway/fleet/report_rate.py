"""Health reports per device: a token bucket each, for the devices seen most recently. Pure."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class ReportRate:
    """Each device may send `burst` reports at once and then one per `interval_s`. At most
    `max_devices` buckets are kept (the least recently seen goes first: it is full again
    by then, or near it)."""

    def __init__(self, interval_s: float, burst: int, max_devices: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.burst = burst
        self.max_devices = max_devices
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def admit(self, device_id: str) -> float:
        """0 when the report may go in (and it is counted), else the seconds to wait."""
        now = self._clock()
        bucket = self._buckets.pop(device_id, None) or _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) / self.interval_s)
        bucket.at = now
        self._buckets[device_id] = bucket
        while len(self._buckets) > self.max_devices:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) * self.interval_s

    def __len__(self) -> int:
        return len(self._buckets)
