from dataclasses import replace

from edge_console.alerts import CODES, Observed, alerts_for
from edge_console.fleet import FleetView
from edge_console.settings import ConsoleSettings
from ingress_common.fleet_records import DeviceHealth
from tests.unit.ingress_common.test_health_message import report

LIMITS = ConsoleSettings(health_interval_s=30, no_sound_s=60)
NOW = 1_700_000_100_000


def codes(health: DeviceHealth, quiet_since: int | None = None,
          depths: tuple[int, ...] = ()) -> list[str]:
    return [a.code for a in alerts_for(Observed(health, NOW, quiet_since, depths), LIMITS)]


def fresh(**changes: object) -> DeviceHealth:
    sent = replace(report(), **{"sent_at_ms": NOW - 1000, "spool_oldest_age_s": 0.0, **changes})
    return DeviceHealth(sent, "gw", NOW - 1000)


def test_a_healthy_device_raises_nothing() -> None:
    assert codes(fresh()) == []


def test_each_alert_at_its_threshold() -> None:
    assert codes(DeviceHealth(fresh().report, "gw", NOW - 91_000)) == ["offline", "clock_skew"]
    assert codes(DeviceHealth(fresh().report, "gw", NOW - 89_000)) == ["clock_skew"]
    assert codes(fresh(mic_open=False)) == ["mic_closed"]
    assert codes(fresh(), quiet_since=NOW - 60_000) == ["no_sound"]
    assert codes(fresh(), quiet_since=NOW - 59_000) == []
    assert codes(fresh(clipped_ratio=0.01)) == ["clipping"]
    assert codes(fresh(spool_oldest_age_s=301.0)) == ["backlog"]
    assert codes(fresh(), depths=(1, 2, 3)) == ["backlog"]
    assert codes(fresh(), depths=(1, 3, 3)) == []
    assert codes(fresh(segments_quarantined=1)) == ["quarantined"]
    assert codes(fresh(thread_errors=2)) == ["thread_errors"]
    assert codes(fresh(disk_free_bytes=10_000_000)) == ["disk_low"]
    skewed = DeviceHealth(replace(fresh().report, sent_at_ms=NOW + 2500), "gw", NOW)
    assert codes(skewed) == ["clock_skew"]


def test_the_view_tracks_quiet_since_and_is_bounded() -> None:
    fleet = FleetView(replace(LIMITS, max_devices=2))
    quiet = replace(fresh().report, level_rms_dbfs=-120.0, uptime_s=500.0)
    for i in range(4):
        fleet.take_health(DeviceHealth(quiet, "gw", NOW - 60_000 + i * 10_000))
    view = fleet.view("pi-1", NOW)
    assert view is not None and "no_sound" in view["alerts"]
    for device in ("b", "c"):
        fleet.take_health(DeviceHealth(replace(quiet, device_id=device), "gw", NOW))
    assert len(fleet) == 2 and fleet.view("pi-1", NOW) is None
    assert set(CODES) >= {"offline", "no_sound", "backlog"}


def offline_at(health: DeviceHealth, now_ms: int, readable_since_ms: int = 0) -> bool:
    seen = Observed(health, now_ms, None, (), readable_since_ms)
    return "offline" in [a.code for a in alerts_for(seen, LIMITS)]


def test_offline_is_judged_by_the_devices_own_interval() -> None:
    fast = DeviceHealth(replace(fresh().report, health_interval_s=2.0), "gw", NOW)
    slow = DeviceHealth(replace(fresh().report, health_interval_s=60.0), "gw", NOW)
    older = DeviceHealth(fresh().report, "gw", NOW)  # no interval: the console's 30 s
    assert not offline_at(fast, NOW + 6_000) and offline_at(fast, NOW + 6_500)
    assert not offline_at(slow, NOW + 179_000) and offline_at(slow, NOW + 181_000)
    assert not offline_at(older, NOW + 89_000) and offline_at(older, NOW + 91_000)


def test_the_consoles_own_outage_makes_no_device_offline() -> None:
    fast = DeviceHealth(replace(fresh().report, health_interval_s=2.0), "gw", NOW)
    back = NOW + 40_000  # Kafka readable again 40 s after the last report
    assert not offline_at(fast, back + 5_000, readable_since_ms=back)
    assert offline_at(fast, back + 7_000, readable_since_ms=back)
