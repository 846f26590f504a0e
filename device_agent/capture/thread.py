"""The capture thread: reads the source and never waits on anything else.

Chunks go into a bounded queue with put_nowait; when it is full the chunk is dropped,
counted, and a gap is marked. Device failures and stalls close the source and reopen it
with backoff; the device's stable name is resolved again at each open (devices.py), so a
replugged microphone is found whatever card number it comes back as.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from device_agent.backoff import Backoff
from device_agent.capture.source import AudioSource, EndOfSource, SourceError, Stamp
from device_agent.stats import AgentStats
from ingress_common.pcm import BYTES_PER_SECOND

_LOGGER = logging.getLogger(__name__)
STALL_TIMEOUT_S = 2.0
REOPEN_BASE_S, REOPEN_CAP_S = 0.25, 1.0
"""Reopening a vanished device is retried at most 1 s apart (with jitter): trying to open an
absent card costs nothing, and a replugged microphone is back within about a second."""


@dataclass(frozen=True)
class Captured:
    pcm: bytes
    stamp: Stamp
    """When the chunk's first sample was taken."""


@dataclass(frozen=True)
class Gap:
    """Audio was lost before the next chunk (xrun, reopen, queue overflow)."""


@dataclass(frozen=True)
class SourceEnded:
    """A finite source is exhausted."""


Item = Captured | Gap | SourceEnded


class CaptureThread(threading.Thread):
    def __init__(self, open_source: Callable[[], AudioSource], out: queue.Queue[Item],
                 stats: AgentStats, stop: threading.Event, backoff: Backoff | None = None,
                 stall_timeout_s: float = STALL_TIMEOUT_S, block_when_full: bool = False) -> None:
        super().__init__(name="capture", daemon=True)
        self._open_source = open_source
        self._out = out
        self._stats = stats
        self._halt = stop
        self._backoff = backoff or Backoff(base_s=REOPEN_BASE_S, cap_s=REOPEN_CAP_S)
        self._stall_timeout_s = stall_timeout_s
        self._gap_pending = False
        self._reopen = threading.Event()
        self._block_when_full = block_when_full
        """Only for finite sources (files): a live microphone must never wait."""

    def replace_source(self, open_source: Callable[[], AudioSource]) -> None:
        """Capture from `open_source` from now on: the current device is closed and the
        new one opened (a remote channel change); from any thread."""
        self._open_source = open_source
        self._reopen.set()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                source = self._open()
            except EndOfSource:
                self._put(SourceEnded())
                return
            if source is None:
                self._halt.wait(self._backoff.next_delay())
                continue
            try:
                self._read_until_failure(source)
            except EndOfSource:
                self._put(SourceEnded())
                return
            except Exception:  # noqa: BLE001 - the supervisor: log, count, reopen
                self._stats.add(thread_errors=1)
                _LOGGER.exception("capture failed unexpectedly; reopening %s", source.name)
            finally:
                source.close()
                self._stats.set(mic_open=False, capture_format="")
            if not self._halt.is_set():
                self._stats.add(reopens=1)
                self._mark_gap()
                self._halt.wait(self._backoff.next_delay())

    def _open(self) -> AudioSource | None:
        source = self._open_source()
        try:
            source.open()
        except SourceError as exc:
            self._stats.add(open_failures=1)
            _LOGGER.warning("cannot open %s: %s", source.name, exc)
            return None
        self._stats.set(mic_open=True, capture_format=describe_format(source))
        _LOGGER.info("capturing from %s", source.name)
        return source

    def _read_until_failure(self, source: AudioSource) -> None:
        while not self._halt.is_set():
            if self._reopen.is_set():
                self._reopen.clear()
                self._backoff.reset()
                _LOGGER.info("reopening %s with new settings", source.name)
                return
            try:
                chunk = source.read(self._stall_timeout_s)
            except SourceError as exc:
                _LOGGER.warning("capture from %s failed: %s; reopening", source.name, exc)
                return
            done_ns, wall_ns = time.monotonic_ns(), time.time_ns()
            if chunk.xrun:
                self._stats.add(xruns=1)
                self._mark_gap()
                continue
            self._backoff.reset()
            lag_ns = len(chunk.pcm) * 1_000_000_000 // BYTES_PER_SECOND
            self._stats.add(frames=len(chunk.pcm) // 2)
            self._stats.set(last_frame_monotonic=time.monotonic())
            self._put(Captured(chunk.pcm, Stamp(done_ns - lag_ns, wall_ns - lag_ns)))

    def _mark_gap(self) -> None:
        self._gap_pending = True

    def _put(self, item: Item) -> None:
        block = self._block_when_full or isinstance(item, SourceEnded)
        try:
            if self._gap_pending:
                self._out.put(Gap(), block=block)
                self._stats.add(gaps=1)
                self._gap_pending = False
            self._out.put(item, block=block)
        except queue.Full:
            self._stats.add(queue_overflows=1)
            self._gap_pending = True


def describe_format(source: AudioSource) -> str:
    """The device's native format as opened ("48000 Hz, 2 ch, S16_LE"), or what a fake
    delivers."""
    fmt = getattr(source, "format", None)
    if fmt is not None and hasattr(fmt, "rate_hz"):
        return f"{fmt.rate_hz} Hz, {fmt.channels} ch, {fmt.sample_format}"
    return "16000 Hz, 1 ch, S16_LE"
