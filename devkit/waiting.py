"""Polling for a condition that a test cannot be notified of (another process's state)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
POLL_S = 0.05


def wait_for(probe: Callable[[], T], timeout_s: float, what: str) -> T:
    """The first truthy value `probe()` returns; TimeoutError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(POLL_S)
    raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
