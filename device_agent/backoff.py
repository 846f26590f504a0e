"""Exponential backoff with full jitter: delay = uniform(0, min(cap, base × 2^attempt))."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    def __init__(self, base_s: float = 1.0, cap_s: float = 30.0,
                 uniform: Callable[[float, float], float] = random.uniform) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self._uniform = uniform
        self.attempt = 0

    def ceiling(self, attempt: int) -> float:
        """The largest delay after `attempt` consecutive failures (attempt 0 = first failure)."""
        return min(self.cap_s, self.base_s * 2 ** min(attempt, 32))

    def next_delay(self) -> float:
        """Record one more failure and return how long to wait before retrying."""
        delay = self._uniform(0.0, self.ceiling(self.attempt))
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
