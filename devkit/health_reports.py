"""Health reports as a device sends them, for tests and benchmarks that stand in for devices."""

from __future__ import annotations

import random
import time

from ingress_common.health import MAX_RECENT_UTTERANCES, HealthReport, RecentUtterance


def sample_report(device_id: str, rng: random.Random | None = None,
                  reason: str = "interval") -> HealthReport:
    """A busy device's report: every field set, its last five utterances; random values
    with `rng`, fixed ones without."""
    r = rng or random.Random(0)
    now = time.time_ns() // 1_000_000
    recent = tuple(RecentUtterance(f"{device_id}:k3x9q2m1z:{i}", "speech.audio.ingress",
                                   r.randrange(3), r.randrange(10**7), 2400, now)
                   for i in range(MAX_RECENT_UTTERANCES))
    return HealthReport(
        device_id=device_id, sent_at_ms=now, reason=reason, agent_version="0.1.0",
        uptime_s=r.uniform(1e3, 1e6), mic_open=True, capture_format="48000 Hz, 2 ch, S16_LE",
        level_rms_dbfs=r.uniform(-70, -30), level_peak_dbfs=r.uniform(-30, -3),
        clipped_ratio=0.0, noise_floor_dbfs=r.uniform(-80, -50),
        since_speech_s=r.uniform(0, 600), since_delivery_s=r.uniform(0, 600),
        segments_sent=r.randrange(10**5), segments_acked=r.randrange(10**5),
        segments_dropped=0, segments_quarantined=0, reconnects=r.randrange(100),
        thread_errors=0, spool_depth=0, spool_bytes=0, spool_oldest_age_s=0.0,
        disk_free_bytes=r.randrange(10**9, 10**10), settings_version=1, recent=recent)
