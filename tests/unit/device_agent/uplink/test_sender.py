"""The delivery thread's supervisor loop: an unexpected exception never ends the thread."""

from __future__ import annotations

import threading
import time

from device_agent.backoff import Backoff
from device_agent.spool.memory import MemorySpool
from device_agent.spool.model import Segment, SegmentMeta, SpoolLimits
from device_agent.stats import AgentStats
from device_agent.uplink.connection import Attempt
from device_agent.uplink.sender import SenderThread
from ingress_common.protocol import Published


class FlakyUplink:
    """Raises what killed the landed delivery thread, then delivers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def deliver(self, segment: Segment, stop: threading.Event) -> Attempt:
        self.calls += 1
        if self.calls <= self.failures:
            raise OSError(9, "Bad file descriptor")
        return Attempt(True, False, "published", Published("c", "t", 0, 1, 2, 0))


def test_an_unexpected_exception_is_counted_and_delivery_carries_on() -> None:
    spool = MemorySpool(SpoolLimits())
    segment = spool.open_segment(SegmentMeta("d:b:r:1", 1, "d", 0, 0, time.time()), b"\0\0")
    assert segment is not None
    spool.complete(segment)
    stats, stop, uplink = AgentStats(), threading.Event(), FlakyUplink(failures=2)
    delivery = SenderThread(spool, uplink, stats, stop,  # type: ignore[arg-type]
                        Backoff(0.01, 0.01, uniform=lambda _a, b: b))
    delivery.start()
    try:
        deadline = time.monotonic() + 5
        while spool.depth and time.monotonic() < deadline:
            time.sleep(0.01)
        assert spool.depth == 0 and delivery.is_alive()
        assert stats.snapshot().thread_errors == 2 and uplink.calls == 3
    finally:
        stop.set()
        delivery.join(5)
