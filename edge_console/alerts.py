"""The alerts a device's state raises: a code, and a plain sentence. Pure.

Each threshold is a console setting (docs/fleet.md lists them with their defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from edge_console.settings import ConsoleSettings
from ingress_common.fleet_records import DeviceHealth

CODES = ("offline", "mic_closed", "no_sound", "clipping", "backlog", "quarantined",
         "clock_skew", "thread_errors", "disk_low")


@dataclass(frozen=True)
class Alert:
    code: str
    sentence: str


@dataclass(frozen=True)
class Observed:
    """What the console knows of one device beyond its last report."""

    health: DeviceHealth
    now_ms: int
    quiet_since_ms: int | None
    """Since when its input has stayed at or below the no-sound level (None: it has not)."""
    depths: tuple[int, ...]
    """Spool depth in its last reports, oldest first."""
    readable_since_ms: int = 0
    """Since when the console has been able to read Kafka again after an outage: no
    report counts as older than this for `offline` (the console's outage is not the
    device's)."""


def interval_s(health: DeviceHealth, limits: ConsoleSettings) -> float:
    """The device's own report interval, or the console's setting for older agents."""
    return health.report.health_interval_s or limits.health_interval_s


def alerts_for(seen: Observed, limits: ConsoleSettings) -> list[Alert]:
    report = seen.health.report
    out = []
    age_s = (seen.now_ms - max(seen.health.received_at_ms, seen.readable_since_ms)) / 1000
    every_s = interval_s(seen.health, limits)
    if age_s > limits.offline_intervals * every_s:
        out.append(Alert("offline", f"No report for {age_s:.0f} s (more than "
                                    f"{limits.offline_intervals:g} intervals of {every_s:g} s)."))
    if not report.mic_open:
        out.append(Alert("mic_closed", "The microphone is not open: unplugged, or refused."))
    elif seen.quiet_since_ms is not None and \
            (seen.now_ms - seen.quiet_since_ms) / 1000 >= limits.no_sound_s:
        out.append(Alert("no_sound", f"The input has stayed at or below "
                                     f"{limits.no_sound_dbfs:g} dBFS for "
                                     f"{(seen.now_ms - seen.quiet_since_ms) / 1000:.0f} s: a "
                                     "dead or muted microphone."))
    if report.clipped_ratio > limits.clipping_ratio:
        out.append(Alert("clipping", f"{report.clipped_ratio:.2%} of the samples were at full "
                                     "scale: the gain is too high."))
    depths = seen.depths
    rising = len(depths) >= 3 and all(depths[i] < depths[i + 1] for i in range(len(depths) - 1))
    if report.spool_oldest_age_s > limits.backlog_age_s or rising:
        out.append(Alert("backlog", f"{report.spool_depth} segments wait, the oldest for "
                                    f"{report.spool_oldest_age_s:.0f} s" +
                                    (", and the spool keeps growing." if rising else ".")))
    if report.segments_quarantined:
        out.append(Alert("quarantined", f"{report.segments_quarantined} segments were set "
                                        "aside after the gateway refused them repeatedly."))
    skew_s = seen.health.clock_skew_ms / 1000
    if abs(skew_s) > limits.clock_skew_s:
        out.append(Alert("clock_skew", f"The device's clock is {skew_s:+.1f} s off its "
                                       "gateway's: captured_at times are wrong."))
    if report.thread_errors:
        out.append(Alert("thread_errors", f"{report.thread_errors} unexpected errors in the "
                                          "agent's threads since it started: see its journal."))
    if report.disk_free_bytes is not None and report.disk_free_bytes < limits.disk_low_bytes:
        out.append(Alert("disk_low", f"{report.disk_free_bytes / 1e6:.0f} MB free where the "
                                     "spool lives."))
    return out
