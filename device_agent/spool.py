"""Store-and-forward: every segment is kept until the gateway confirms it is in Kafka.

A segment is *open* while it is being captured (the uplink may already stream it live)
and *complete* once it ended. Bounded by bytes, segment count and age; when full the
policy drops the oldest segment (or refuses the newest) and counts it. `DirectorySpool`
also writes each completed segment to its own file (temp file, fsync, rename) and
replays them, oldest first, after a restart. An open segment lives only in memory.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingress_common.log_throttle import throttled_logger

_LOGGER = logging.getLogger(__name__)
_THROTTLED = throttled_logger(f"{__name__}.disk")
SUFFIX = ".seg"
TMP_SUFFIX = ".tmp"
QUARANTINE_DIR = "quarantine"
MAX_QUARANTINED = 100
ROOM_WAIT_S = 0.5
"""With the "wait" policy, how often a blocked writer looks again (it is also notified)."""


@dataclass(frozen=True)
class SpoolLimits:
    max_bytes: int = 64 * 1024 * 1024
    max_segments: int = 2000
    max_age_s: float = 24 * 3600.0
    policy: str = "drop_oldest"
    """"drop_oldest" or "drop_newest" when a limit is reached; "wait" (a file, which unlike a
    microphone can wait): the writer blocks until delivery makes room, and nothing is dropped."""


@dataclass
class SegmentMeta:
    segment_id: str
    seq: int
    device_id: str
    captured_at_ms: int
    capture_monotonic_ms: int
    created_wall_s: float


@dataclass(eq=False)
class Segment:
    """Compared by identity: two segments are never the same because their PCM is."""

    meta: SegmentMeta
    pcm: bytearray = field(default_factory=bytearray)
    complete: bool = False
    attempts: int = 0
    added_at: float = 0.0
    """The spool's monotonic clock when it was added (a replayed segment: when replayed).
    Its age counts from here."""
    file_name: str = ""
    """Directory spool: its file, named by a spool sequence number that only grows."""
    stored_bytes: int = 0
    """PCM bytes in its spool file; the directory spool keeps only the oldest segment's
    PCM in memory, and `pcm` is empty for the others until they are the oldest."""
    last_failure: str = ""
    same_failures: int = 0
    """How many times in a row delivery failed with `last_failure`."""
    in_spool: bool = False
    """Kept by the spool: False before it is added and once delivered or dropped."""

    @property
    def nbytes(self) -> int:
        """Its PCM bytes, in memory or on disk."""
        return len(self.pcm) or self.stored_bytes


@dataclass
class SpoolCounters:
    dropped_full: int = 0
    dropped_age: int = 0
    refused_full: int = 0
    quarantined: int = 0
    write_failures: int = 0
    """Segments the directory spool could not write (disk full, I/O error)."""


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


class DirectorySpool(MemorySpool):
    """One file per completed segment: a JSON header line, then raw PCM16 LE 16 kHz mono.
    Only the oldest segment's PCM (the one being delivered) and the one being captured are
    held in memory; the rest are read back from disk when their turn comes, so a spool
    bounded at 1 GiB fits the unit's MemoryMax."""

    def __init__(self, directory: Path, limits: SpoolLimits,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(limits, clock)
        self.directory = directory
        self._next_place = 1
        directory.mkdir(parents=True, exist_ok=True)
        for segment in self._load():
            self._add(segment)

    def _assign_place(self, segment: Segment) -> None:
        """Names sort by a sequence number that only grows (never by the wall clock, which
        may jump); the segment id keeps them unique."""
        if not segment.file_name:
            safe_id = "".join(c if c.isalnum() or c in "-_." else "_"
                              for c in segment.meta.segment_id)
            segment.file_name = f"{self._next_place:015d}-{safe_id}{SUFFIX}"
        place = segment.file_name.split("-", 1)[0]
        self._next_place = max(self._next_place, int(place) + 1 if place.isdigit() else 0)

    def _path(self, segment: Segment) -> Path:
        return self.directory / segment.file_name

    def _persist(self, segment: Segment) -> None:
        """Write the segment's file. A full disk or an I/O error does not stop capture: the
        segment stays in memory (within the spool's bounds) and is delivered from there;
        the failure is counted and logged (throttled), and later segments try again."""
        final = self._path(segment)
        tmp = final.with_suffix(TMP_SUFFIX)
        try:
            with open(tmp, "wb") as out:
                out.write(json.dumps(asdict(segment.meta)).encode() + b"\n")
                out.write(segment.pcm)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
            _fsync_directory(self.directory)
            segment.stored_bytes = len(segment.pcm)
            if self._segments and segment is not self._segments[0]:
                segment.pcm = bytearray()  # on disk now; read back when it is the oldest
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            self.counters.write_failures += 1
            _THROTTLED.warning("spool write failed; segment kept in memory only: %s", exc,
                               extra={"segment_id": segment.meta.segment_id,
                                      "write_failures": self.counters.write_failures})

    def _unpersist(self, segment: Segment) -> None:
        self._path(segment).unlink(missing_ok=True)

    def _load_pcm(self, segment: Segment) -> bool:
        if segment.pcm or not segment.stored_bytes:
            return True
        path = self._path(segment)
        try:
            _, _, pcm = path.read_bytes().partition(b"\n")
        except OSError as exc:
            _LOGGER.error("spool file %s unreadable: %s", path.name, exc)
            return False
        if len(pcm) != segment.stored_bytes:
            _LOGGER.error("spool file %s truncated; moved aside", path.name)
            path.rename(path.with_suffix(".corrupt"))
            return False
        segment.pcm = bytearray(pcm)
        return True

    def _set_aside(self, segment: Segment) -> None:
        """Into quarantine/, which keeps the newest MAX_QUARANTINED files."""
        aside = self.directory / QUARANTINE_DIR
        aside.mkdir(exist_ok=True)
        path = self._path(segment)
        if path.exists():
            path.rename(aside / path.name)
        for old in sorted(aside.glob(f"*{SUFFIX}"))[:-MAX_QUARANTINED]:
            old.unlink(missing_ok=True)

    def _load(self) -> list[Segment]:
        for leftover in self.directory.glob(f"*{TMP_SUFFIX}"):
            leftover.unlink()
        segments = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            try:
                with path.open("rb") as spooled:
                    header = spooled.readline()
                    size = path.stat().st_size - len(header)
                meta = SegmentMeta(**json.loads(header))
            except (OSError, ValueError, TypeError) as exc:
                _LOGGER.error("unreadable spool file %s moved aside: %s", path.name, exc)
                path.rename(path.with_suffix(".corrupt"))
                continue
            segments.append(Segment(meta, bytearray(), complete=True, stored_bytes=size,
                                    file_name=path.name))
        if segments:
            _LOGGER.info("replaying %d spooled segments", len(segments))
        return segments


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
