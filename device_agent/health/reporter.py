"""The health thread: a report every `interval_s`, and at once on a change of state.

A report that cannot be delivered is not kept: the next one says the same, newer. A 429's
`Retry-After` is honoured. Reports caused by a change are at least `min_gap_s` apart, so a
flapping microphone cannot exceed the gateway's rate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from device_agent.health.watch import StateWatch, Watched
from ingress_common.health import DesiredSettings, HealthReply, HealthReport
from ingress_common.health_client import HealthRefused

_LOGGER = logging.getLogger(__name__)
TICK_S = 0.25
MIN_GAP_S = 5.0


class Reporting(Protocol):
    def watched(self) -> Watched: ...

    def health_report(self, reason: str) -> HealthReport: ...

    def take_settings(self, desired: DesiredSettings) -> None: ...

    def count_thread_error(self) -> None: ...


Post = Callable[[HealthReport], HealthReply]


class HealthReporter(threading.Thread):
    def __init__(self, agent: Reporting, post: Post, interval_s: float,
                 stop: threading.Event) -> None:
        super().__init__(name="health", daemon=True)
        self._agent = agent
        self._post = post
        self._interval_s = interval_s
        self._min_gap_s = min(MIN_GAP_S, interval_s)
        self._halt = stop
        self._watch = StateWatch()
        self.sent = 0
        self.refused = 0

    def run(self) -> None:
        reason: str | None = "start"
        last_sent = not_before = 0.0
        while not self._halt.is_set():
            try:
                now = time.monotonic()
                state = self._agent.watched()
                reason = reason or self._watch.change(state)
                due = now - last_sent >= self._interval_s
                gap_ok = now - last_sent >= self._min_gap_s or reason == "start"
                if now >= not_before and (due or (reason and gap_ok)):
                    last_sent = now
                    not_before = self._send(reason or "interval", state)
                    reason = None
            except Exception:  # noqa: BLE001 - the supervisor: log, count, go on
                self._agent.count_thread_error()
                _LOGGER.exception("health report failed unexpectedly; carrying on")
            self._halt.wait(TICK_S)

    def _send(self, reason: str, state: Watched) -> float:
        """Send one report; the monotonic time before which the next may not go."""
        self._watch.reported(state)
        try:
            reply = self._post(self._agent.health_report(reason))
        except HealthRefused as exc:
            self.refused += 1
            _LOGGER.warning("health report refused: %s", exc)
            return time.monotonic() + (exc.retry_after_s or 0.0)
        except OSError as exc:
            _LOGGER.warning("health report not delivered: %s", exc)
            return 0.0
        self.sent += 1
        if reply.settings is not None:
            self._agent.take_settings(reply.settings)
        return 0.0
