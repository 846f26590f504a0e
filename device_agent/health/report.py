"""The device's health report, assembled from typed snapshots of its parts: the counters,
the input's levels, the spool, the remote settings in force, and where its last utterances
landed. The agent wires the parts in; this module knows what a report says."""

from __future__ import annotations

import shutil
import time
from collections import deque
from dataclasses import dataclass

from device_agent.health.remote import RemoteSettings
from device_agent.health.watch import Watched
from device_agent.segmenting.thread import SegmentingThread
from device_agent.spool.memory import MemorySpool
from device_agent.stats import AgentStats
from ingress_common.health import MAX_RECENT_UTTERANCES, SILENT_DBFS, HealthReport, RecentUtterance
from ingress_common.protocol import Error, Published
from ingress_common.version import VERSION


@dataclass(frozen=True)
class Reported:
    """Who the device is, and what it reports about itself."""

    device_id: str
    interval_s: float
    """Seconds between reports (the console calls it offline after three without one)."""
    spool_dir: str
    """Where the spool lives, for the free disk ("" for a memory spool)."""


class HealthAssembler:
    def __init__(self, reported: Reported, stats: AgentStats, spool: MemorySpool,
                 segmenting: SegmentingThread, remote: RemoteSettings) -> None:
        self._reported = reported
        self._stats = stats
        self._spool = spool
        self._segmenting = segmenting
        self._remote = remote
        self._started = time.monotonic()
        self._recent: deque[RecentUtterance] = deque(maxlen=MAX_RECENT_UTTERANCES)

    def delivered(self, reply: Published | Error | None) -> None:
        """A segment's verdict: when delivery last happened, and where it landed."""
        self._stats.set(last_delivery_monotonic=time.monotonic())
        if isinstance(reply, Published) and reply.segment_id:
            self._recent.append(RecentUtterance(reply.segment_id, reply.topic, reply.partition,
                                                reply.offset, reply.duration_ms,
                                                time.time_ns() // 1_000_000))

    def watched(self) -> Watched:
        """The state whose change sends a report at once."""
        limits = self._spool.limits
        half = (self._spool.depth * 2 >= limits.max_segments
                or self._spool.total_bytes * 2 >= limits.max_bytes)
        return Watched(self._stats.mic_open, self._spool.counters.quarantined, half,
                       self._remote.version, self._remote.error)

    def report(self, reason: str) -> HealthReport:
        now = time.monotonic()
        stats = self._stats.snapshot()
        levels = self._segmenting.levels.take()
        spool = self._spool
        dropped = (spool.counters.dropped_full + spool.counters.dropped_age
                   + spool.counters.refused_full)

        def since(moment: float) -> float | None:
            return round(now - moment, 3) if moment else None
        return HealthReport(
            device_id=self._reported.device_id, sent_at_ms=time.time_ns() // 1_000_000,
            reason=reason, agent_version=VERSION, uptime_s=round(now - self._started, 3),
            mic_open=stats.mic_open, capture_format=stats.capture_format,
            level_rms_dbfs=round(levels.rms_dbfs, 2), level_peak_dbfs=round(levels.peak_dbfs, 2),
            clipped_ratio=levels.clipped_ratio,
            noise_floor_dbfs=round(max(SILENT_DBFS, self._segmenting.noise_floor_dbfs), 2),
            since_speech_s=since(stats.last_speech_monotonic),
            since_delivery_s=since(stats.last_delivery_monotonic),
            segments_sent=stats.segments_sent, segments_acked=stats.segments_acked,
            segments_dropped=dropped, segments_quarantined=spool.counters.quarantined,
            reconnects=stats.reconnects, thread_errors=stats.thread_errors,
            spool_depth=spool.depth, spool_bytes=spool.total_bytes,
            spool_oldest_age_s=round(spool.oldest_age_s, 3), disk_free_bytes=self._disk_free(),
            settings_version=self._remote.version, settings_error=self._remote.error,
            recent=tuple(self._recent), health_interval_s=self._reported.interval_s)

    def _disk_free(self) -> int | None:
        spool_dir = self._reported.spool_dir
        return shutil.disk_usage(spool_dir).free if spool_dir else None
