"""The uplink thread: delivers spooled segments oldest first, retrying with backoff."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from device_agent.backoff import Backoff
from device_agent.spool.memory import MemorySpool
from device_agent.spool.model import Segment
from device_agent.stats import AgentStats
from device_agent.uplink.connection import Attempt, SegmentConnection
from ingress_common.protocol import Error, Published
from ingress_common.refusals import transient

_LOGGER = logging.getLogger(__name__)
IDLE_WAIT_S = 0.5


class SenderThread(threading.Thread):
    def __init__(self, spool: MemorySpool, uplink: SegmentConnection, stats: AgentStats,
                 stop: threading.Event, backoff: Backoff | None = None,
                 max_rejections: int = 3,
                 on_delivered: Callable[[Published | Error | None], None] = lambda _reply: None,
                 ) -> None:
        """`on_delivered` hears each segment's verdict (None: no verdict came)."""
        super().__init__(name="sender", daemon=True)
        self._spool = spool
        self._uplink = uplink
        self._stats = stats
        self._halt = stop
        self._backoff = backoff or Backoff(base_s=1.0, cap_s=30.0)
        self._max_rejections = max_rejections
        self._on_delivered = on_delivered

    def run(self) -> None:
        """The supervisor loop: an unexpected exception is logged with its traceback and
        counted, and delivery carries on after a backoff. It never ends the thread."""
        while not self._halt.is_set():
            try:
                self._deliver_oldest()
            except Exception:  # noqa: BLE001 - the supervisor: log, count, back off, go on
                self._stats.add(thread_errors=1)
                delay = self._backoff.next_delay()
                _LOGGER.exception("delivery failed unexpectedly; carrying on in %.1f s", delay)
                self._halt.wait(delay)

    def _poisoned(self, segment: Segment, outcome: Attempt) -> bool:
        """The same non-transient failure `max_rejections` times in a row: the segment
        would block the ones behind it (e.g. a topic whose max.message.bytes is too small)."""
        failure = outcome.failure
        if not failure or transient(failure.split(":", 1)[0]):  # never a reason to quarantine
            segment.last_failure, segment.same_failures = "", 0
            return False
        same = failure == segment.last_failure
        segment.last_failure = failure
        segment.same_failures = segment.same_failures + 1 if same else 1
        return segment.same_failures >= self._max_rejections

    def _deliver_oldest(self) -> None:
        segment = self._spool.oldest(IDLE_WAIT_S)
        if segment is None:
            return
        segment.attempts += 1
        self._stats.add(segments_sent=1, reconnects=1 if segment.attempts > 1 else 0)
        outcome = self._uplink.deliver(segment, self._halt)
        log = {"segment_id": segment.meta.segment_id, "attempt": segment.attempts,
               "reason": outcome.reason}
        if outcome.delivered:
            self._spool.remove(segment)
            self._stats.add(segments_acked=1, segments_duplicate=int(outcome.reason == "duplicate"))
            self._backoff.reset()
            reply = outcome.reply
            _LOGGER.info("segment delivered", extra={
                **log, "partition": getattr(reply, "partition", None),
                "offset": getattr(reply, "offset", None)})
            self._on_delivered(reply)
            return
        if self._poisoned(segment, outcome):
            self._spool.quarantine(segment)
            self._stats.add(segments_rejected=int(not outcome.retryable), segments_quarantined=1)
            _LOGGER.error("segment quarantined after %d identical failures: %s",
                          segment.same_failures, outcome.failure, extra=log)
            return
        self._stats.add(segments_retried=1)
        # the gateway's own word on when to ask again (a device waiting to be accepted
        # asks every few seconds, so that it is served within seconds of the click)
        delay = (outcome.retry_after_s if outcome.retry_after_s is not None
                 else self._backoff.next_delay())
        _LOGGER.warning("delivery failed; retrying in %.1f s", delay, extra=log)
        self._halt.wait(delay)
