"""Bounded logs during an outage: the first line of a kind, then one summary per interval.

A broker that is down makes librdkafka and our error callbacks report the same failure
many times a second (measured: about 30 lines/s for 30 s). On an edge box those go to
journald on an SD card. `ThrottleFilter` lets the first record of each kind through
(the change of state), drops the repeats, and lets the next one through only after
`interval_s`, with `repeats` = how many were dropped meanwhile. A kind is the logger
name plus the message template (for librdkafka: its facility, e.g. FAIL).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

DEFAULT_INTERVAL_S = 60.0
MAX_KINDS = 256
"""Kinds remembered at once; the least recent is forgotten first."""


class ThrottleFilter(logging.Filter):
    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._kinds: dict[tuple[str, str], tuple[float, int]] = {}
        """kind → (when the last record passed, records dropped since)."""

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, _template(record))
        now = self._clock()
        with self._lock:
            passed_at, dropped = self._kinds.pop(kind, (float("-inf"), 0))
            if now - passed_at < self.interval_s:
                self._kinds[kind] = (passed_at, dropped + 1)
                return False
            self._kinds[kind] = (now, 0)
            while len(self._kinds) > MAX_KINDS:
                del self._kinds[next(iter(self._kinds))]
        if dropped:
            record.repeats = dropped
        return True


def _template(record: logging.LogRecord) -> str:
    """librdkafka logs as ("%s [%s] %s", facility, client, text): its facility is the kind."""
    if record.msg == "%s [%s] %s" and isinstance(record.args, tuple) and record.args:
        return f"rdkafka:{record.args[0]}"
    return str(record.msg)


def throttled_logger(name: str, interval_s: float = DEFAULT_INTERVAL_S) -> logging.Logger:
    """A logger whose records are throttled (the filter is added once per name)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, ThrottleFilter) for f in logger.filters):
        logger.addFilter(ThrottleFilter(interval_s))
    return logger
