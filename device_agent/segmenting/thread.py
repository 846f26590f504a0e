"""The segmenting thread: captured chunks → segmenter → spool. Never touches the network."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from device_agent.capture.thread import Captured, Gap, Item, SourceEnded
from device_agent.segmenting.enhancement import EnhancementConfig, Enhancer
from device_agent.segmenting.levels import LevelMeter
from device_agent.segmenting.segmenter import (
    Event,
    SegmentEnded,
    Segmenter,
    SegmenterConfig,
    SegmentExtended,
    SegmentStarted,
)
from device_agent.spool.memory import MemorySpool
from device_agent.spool.model import Segment, SegmentMeta
from device_agent.stats import AgentStats
from ingress_common.pcm import BYTES_PER_SECOND, duration_ms

_LOGGER = logging.getLogger(__name__)
QUEUE_POLL_S = 0.2


class SegmentingThread(threading.Thread):
    def __init__(self, items: queue.Queue[Item], segmenter: Segmenter, spool: MemorySpool,
                 next_segment_id: Callable[[], tuple[str, int]], device_id: str,
                 stats: AgentStats, stop: threading.Event,
                 enhancement: EnhancementConfig | None = None) -> None:
        super().__init__(name="segmenting", daemon=True)
        self._items = items
        self._segmenter = segmenter
        self._spool = spool
        self._next_segment_id = next_segment_id
        self._device_id = device_id
        self._stats = stats
        self._halt = stop
        self._open: Segment | None = None
        self._announced_max_bytes: int | None = None
        self._fitted_max_bytes: int | None = None
        self._new_config: SegmenterConfig | None = None
        self._new_enhancement: EnhancementConfig | None = None
        enhancement = enhancement or EnhancementConfig()
        self._enhancer = Enhancer(enhancement) if enhancement.enabled else None
        self._enhancement = enhancement
        self.source_ended = threading.Event()
        self.levels = LevelMeter()
        """The input's level, measured before any enhancement (the microphone's health)."""

    @property
    def config(self) -> SegmenterConfig:
        return self._new_config or self._segmenter.config

    @property
    def noise_floor_dbfs(self) -> float:
        return self._segmenter.detector.floor_dbfs

    @property
    def front_end(self) -> str:
        """What the audio went through, for the record's headers: `ns=2;agc=3;vad=webrtc`."""
        enhancement = self._new_enhancement or self._enhancement
        return (f"ns={enhancement.noise_suppression};agc={enhancement.auto_gain_dbfs};"
                f"vad={self.config.detector.detector if self.config.mode == 'vad' else 'off'}")

    def reconfigure(self, config: SegmenterConfig,
                    enhancement: EnhancementConfig | None = None) -> None:
        """Segment by `config` (and enhance by `enhancement`) from the next item on; from
        any thread."""
        self._new_config = config
        if enhancement is not None and enhancement != self._enhancement:
            self._new_enhancement = enhancement

    def fit_segments(self, max_bytes: int) -> None:
        """Cut segments to fit `max_bytes` (the buffer the gateway announces); from any
        thread, taken up by this one before its next item."""
        if max_bytes > 0:
            self._announced_max_bytes = max_bytes

    def run(self) -> None:
        """The supervisor loop: an unexpected exception while handling one item is logged
        with its traceback and counted; the next item is handled as usual."""
        while not (self._halt.is_set() and self._items.empty()):
            try:
                item = self._items.get(timeout=QUEUE_POLL_S)
            except queue.Empty:
                continue
            try:
                if self._handle(item):
                    return
            except Exception:  # noqa: BLE001 - the supervisor: log, count, go on
                self._stats.add(thread_errors=1)
                _LOGGER.exception("pipeline failed on one item; carrying on")
        self._apply(self._segmenter.flush())
        self._count_silence()

    def _handle(self, item: Item) -> bool:
        """Feed one item to the segmenter and the spool; True once the source has ended."""
        announced = self._announced_max_bytes
        if announced is not None and announced != self._fitted_max_bytes:
            self._segmenter.fit_within(announced)  # once per change, not per chunk
            self._fitted_max_bytes = announced
        new_config, self._new_config = self._new_config, None
        if new_config is not None:
            self._segmenter.reconfigure(new_config)
            _LOGGER.info("segmenting settings applied", extra={"settings": str(new_config)})
        enhancement, self._new_enhancement = self._new_enhancement, None
        if enhancement is not None:
            self._enhancement = enhancement
            self._enhancer = Enhancer(enhancement) if enhancement.enabled else None
            _LOGGER.info("enhancement applied", extra={"settings": str(enhancement)})
        if isinstance(item, Captured):
            self.levels.add(item.pcm)
            pcm, stamp = item.pcm, item.stamp
            if self._enhancer is not None:
                held = self._enhancer.pending_bytes  # from the previous chunk: earlier
                pcm, stamp = self._enhancer.process(pcm), stamp.plus(-held / BYTES_PER_SECOND)
            self._apply(self._segmenter.push(pcm, stamp))
        elif isinstance(item, Gap):
            self._apply(self._segmenter.gap())
        elif isinstance(item, SourceEnded):
            self._apply(self._segmenter.flush())
            self._count_silence()
            self.source_ended.set()
            return True
        self._count_silence()
        return False

    def _count_silence(self) -> None:
        dropped = self._segmenter.counters.silence_bytes_dropped / BYTES_PER_SECOND
        self._stats.set(silence_seconds_skipped=round(dropped, 3))

    def _apply(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, SegmentStarted):
                self._start(event)
            elif isinstance(event, SegmentExtended):
                if self._open is not None:
                    self._spool.append(self._open, event.pcm)
            elif isinstance(event, SegmentEnded) and self._open is not None:
                if event.heard is not None:
                    meta, heard = self._open.meta, event.heard
                    meta.heard_snr_db, meta.heard_speech_share = heard.snr_db, heard.speech_share
                    meta.heard_background_talk = heard.background_talk
                self._spool.complete(self._open)
                _LOGGER.info("segment captured", extra={
                    "segment_id": self._open.meta.segment_id, "reason": event.reason,
                    "duration_ms": duration_ms(len(self._open.pcm))})
                self._open = None

    def _start(self, event: SegmentStarted) -> None:
        segment_id, seq = self._next_segment_id()
        meta = SegmentMeta(segment_id, seq, self._device_id,
                           captured_at_ms=event.stamp.wall_ns // 1_000_000,
                           capture_monotonic_ms=event.stamp.monotonic_ns // 1_000_000,
                           created_wall_s=time.time(), front_end=self.front_end)
        self._open = self._spool.open_segment(meta, event.pcm)
        self._stats.add(segments_started=1)
        self._stats.set(last_speech_monotonic=time.monotonic())
