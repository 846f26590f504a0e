"""The spool in memory: oldest first, bounded, and the waiting between capture and uplink."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from device_agent.spool.model import Segment, SegmentMeta, SpoolCounters, SpoolLimits

_LOGGER = logging.getLogger(__name__)
ROOM_WAIT_S = 0.5
"""With the "wait" policy, how often a blocked writer looks again (it is also notified)."""


class MemorySpool:
    """The spool in memory only: survives outages, not restarts."""

    def __init__(self, limits: SpoolLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.counters = SpoolCounters()
        self._clock = clock
        """Monotonic: a wall clock that jumps (NTP on a Pi without an RTC) must not make
        every segment look ancient, or reorder them."""
        self._segments: list[Segment] = []
        self._bytes = 0
        """Sum of len(pcm) over _segments, kept as they change (append runs per chunk)."""
        self._changed = threading.Condition()

    # -- capture side ---------------------------------------------------
    def open_segment(self, meta: SegmentMeta, pcm: bytes) -> Segment | None:
        """Start a segment; None when the policy refuses it (spool full, drop_newest)."""
        with self._changed:
            segment = Segment(meta, bytearray(pcm))
            if not self._make_room(len(pcm), segment):
                self.counters.refused_full += 1
                return None
            self._add(segment)
            self._changed.notify_all()
            return segment

    def append(self, segment: Segment, pcm: bytes) -> None:
        with self._changed:
            if not segment.in_spool:
                return  # dropped while open
            segment.pcm += pcm
            self._bytes += len(pcm)
            self._make_room(0, segment)
            self._changed.notify_all()

    def complete(self, segment: Segment) -> None:
        with self._changed:
            segment.complete = True
            if segment.in_spool:
                self._persist(segment)
            self._changed.notify_all()

    # -- uplink side ----------------------------------------------------
    def oldest(self, timeout_s: float) -> Segment | None:
        """The oldest segment not yet acked, waiting up to `timeout_s` for one."""
        with self._changed:
            self._expire()
            if not self._segments:
                self._changed.wait(timeout_s)
                self._expire()
            while self._segments and not self._load_pcm(self._segments[0]):
                self._discard(self._segments[0])  # unreadable: moved aside and logged
            return self._segments[0] if self._segments else None

    def wait_for_more(self, segment: Segment, have: int, timeout_s: float) -> None:
        """Block until `segment` has more than `have` bytes, is complete, or is dropped."""
        with self._changed:
            self._changed.wait_for(
                lambda: len(segment.pcm) > have or segment.complete or not segment.in_spool,
                timeout_s)

    def contains(self, segment: Segment) -> bool:
        return segment.in_spool

    def remove(self, segment: Segment) -> None:
        """The gateway confirmed it: forget it."""
        with self._changed:
            if segment.in_spool:
                self._discard(segment)
            self._changed.notify_all()

    def quarantine(self, segment: Segment) -> None:
        """Delivery keeps failing the same way: move it out of the queue (kept on disk by
        the directory spool, for an operator to look at)."""
        with self._changed:
            if segment.in_spool:
                self._segments.remove(segment)
                segment.in_spool = False
                self._bytes -= segment.nbytes
                self._set_aside(segment)
            self.counters.quarantined += 1
            self._changed.notify_all()

    @property
    def depth(self) -> int:
        with self._changed:
            return len(self._segments)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    @property
    def oldest_age_s(self) -> float:
        """How long the oldest segment has waited (0 with none)."""
        with self._changed:
            return self._clock() - self._segments[0].added_at if self._segments else 0.0

    def _add(self, segment: Segment) -> None:
        self._segments.append(segment)
        segment.in_spool = True
        segment.added_at = self._clock()
        self._assign_place(segment)
        self._bytes += segment.nbytes

    def _discard(self, segment: Segment) -> None:
        self._segments.remove(segment)
        segment.in_spool = False
        self._bytes -= segment.nbytes
        self._unpersist(segment)

    # -- bounds -----------------------------------------------------------
    def _make_room(self, extra: int, keep: Segment) -> bool:
        def over() -> bool:
            count = len(self._segments) + (0 if keep.in_spool else 1)
            return self._bytes + extra > self.limits.max_bytes or count > self.limits.max_segments

        while over():
            if self.limits.policy == "wait":
                if not any(s is not keep for s in self._segments):
                    return True  # only `keep` left: one segment is bounded by max_s
                self._changed.wait(ROOM_WAIT_S)  # delivery's remove() notifies
                continue
            if self.limits.policy == "drop_newest" and not keep.in_spool:
                return False
            victim = next((s for s in self._segments if s is not keep), None)
            if victim is None:
                return True  # only `keep` left: one segment is bounded by the segmenter's max_s
            self._discard(victim)
            self.counters.dropped_full += 1
            _LOGGER.warning("spool full: dropped segment", extra={"segment_id": victim.meta.segment_id})
        return True

    def _expire(self) -> None:
        cutoff = self._clock() - self.limits.max_age_s
        for segment in [s for s in self._segments if s.complete and s.added_at < cutoff]:
            self._discard(segment)
            self.counters.dropped_age += 1
            _LOGGER.warning("segment older than the spool's max age dropped",
                            extra={"segment_id": segment.meta.segment_id})

    def _persist(self, segment: Segment) -> None:
        """Memory spool: nothing to write."""

    def _unpersist(self, segment: Segment) -> None:
        """Memory spool: nothing to delete."""

    def _set_aside(self, segment: Segment) -> None:
        """Memory spool: a quarantined segment is dropped (its id is logged)."""

    def _load_pcm(self, segment: Segment) -> bool:
        """Memory spool: the PCM is always in memory."""
        return True

    def _assign_place(self, segment: Segment) -> None:
        """Memory spool: the list's order is the order."""
