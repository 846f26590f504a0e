"""What the console knows of the fleet: each device's last report, its recent levels and
spool depths, and its desired settings; bounded to `max_devices`. Pure (no Kafka, no clock)."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from edge_console.alerts import Observed, alerts_for, interval_s
from edge_console.settings import ConsoleSettings
from ingress_common.fleet_records import DeviceHealth, DeviceSettings

HISTORY_POINTS = 60
"""The sparklines: the last this many reports' levels and spool depths."""
RISING_REPORTS = 3


@dataclass
class DeviceState:
    device_id: str
    health: DeviceHealth | None = None
    levels: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=HISTORY_POINTS))
    depths: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=HISTORY_POINTS))
    quiet_since_ms: int | None = None
    desired: DeviceSettings | None = None


class FleetView:
    def __init__(self, limits: ConsoleSettings) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._devices: OrderedDict[str, DeviceState] = OrderedDict()
        """Least recently heard from first."""

    def take_health(self, health: DeviceHealth) -> None:
        report = health.report
        with self._lock:
            state = self._touch(report.device_id)
            if state.health is not None and health.received_at_ms < state.health.received_at_ms:
                return  # an older report read late (another partition, or a replay)
            state.health = health
            state.levels.append((health.received_at_ms, report.level_rms_dbfs))
            state.depths.append((health.received_at_ms, report.spool_depth))
            quiet = report.mic_open and report.level_rms_dbfs <= self.limits.no_sound_dbfs
            if not quiet:
                state.quiet_since_ms = None
            elif state.quiet_since_ms is None:
                covered_ms = int(min(report.uptime_s, interval_s(health, self.limits)) * 1000)
                state.quiet_since_ms = health.received_at_ms - covered_ms

    def take_settings(self, settings: DeviceSettings) -> None:
        with self._lock:
            state = self._touch(settings.device_id)
            if state.desired is None or settings.desired.version >= state.desired.desired.version:
                state.desired = settings

    def desired_version(self, device_id: str) -> int:
        with self._lock:
            state = self._devices.get(device_id)
            return state.desired.desired.version if state and state.desired else 0

    def known(self, device_id: str) -> bool:
        with self._lock:
            return device_id in self._devices

    def views(self, now_ms: int, readable_since_ms: int = 0) -> list[dict[str, Any]]:
        """Every device as at `now_ms`; no report counts as older than `readable_since_ms`
        for `offline` (alerts.Observed)."""
        with self._lock:
            states = sorted(self._devices.values(), key=lambda s: s.device_id)
            return [self._view(s, now_ms, readable_since_ms) for s in states]

    def view(self, device_id: str, now_ms: int, readable_since_ms: int = 0) -> dict[str, Any] | None:
        with self._lock:
            state = self._devices.get(device_id)
            return self._view(state, now_ms, readable_since_ms) if state else None

    def __len__(self) -> int:
        return len(self._devices)

    def _touch(self, device_id: str) -> DeviceState:
        state = self._devices.pop(device_id, None) or DeviceState(device_id)
        self._devices[device_id] = state
        while len(self._devices) > self.limits.max_devices:
            self._devices.popitem(last=False)
        return state

    def _view(self, state: DeviceState, now_ms: int, readable_since_ms: int) -> dict[str, Any]:
        health = state.health
        recent_depths = tuple(depth for _, depth in list(state.depths)[-RISING_REPORTS:])
        alerts = (alerts_for(Observed(health, now_ms, state.quiet_since_ms, recent_depths,
                                      readable_since_ms), self.limits)
                  if health else [])
        desired = state.desired
        report = health.report.message() if health else None
        return {
            "device_id": state.device_id,
            "online": health is not None and not any(a.code == "offline" for a in alerts),
            "last_report_age_s": round((now_ms - health.received_at_ms) / 1000, 1)
            if health else None,
            "alerts": [a.code for a in alerts],
            "alert_sentences": [{"code": a.code, "sentence": a.sentence} for a in alerts],
            "gateway_id": health.gateway_id if health else None,
            "clock_skew_ms": health.clock_skew_ms if health else None,
            "report": report,
            "levels": [[at, level] for at, level in state.levels],
            "spool_depths": [[at, depth] for at, depth in state.depths],
            "settings": {
                "desired_version": desired.desired.version if desired else 0,
                "applied_version": health.report.settings_version if health else 0,
                "desired": dict(desired.desired.values) if desired else {},
                "changed_by": desired.changed_by if desired else None,
                "changed_at_ms": desired.changed_at_ms if desired else None,
                "error": health.report.settings_error if health else "",
            },
        }
