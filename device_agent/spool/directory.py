"""The spool on disk: each completed segment in its own file, replayed after a restart."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from device_agent.spool.memory import MemorySpool
from device_agent.spool.model import Segment, SegmentMeta, SpoolLimits
from ingress_common.log_throttle import throttled_logger

_LOGGER = logging.getLogger(__name__)
_THROTTLED = throttled_logger(f"{__name__}.disk")
SUFFIX = ".seg"
TMP_SUFFIX = ".tmp"
QUARANTINE_DIR = "quarantine"
MAX_QUARANTINED = 100


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
