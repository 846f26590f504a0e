import json

import pytest

from ingress_common.fleet_records import (
    DeviceHealth,
    DeviceSettings,
    decode_health,
    decode_settings,
    encode_health,
    encode_settings,
)
from ingress_common.health import (
    MAX_REPORT_BYTES,
    BadReport,
    DesiredSettings,
    HealthReply,
    HealthReport,
    RecentUtterance,
)


def report(**changes: object) -> HealthReport:
    values = dict(device_id="pi-1", sent_at_ms=1_700_000_000_000, reason="interval",
                  agent_version="0.1.0", uptime_s=12.5, mic_open=True,
                  capture_format="48000 Hz, 2 ch, S16_LE", level_rms_dbfs=-42.0,
                  level_peak_dbfs=-12.0, clipped_ratio=0.0, noise_floor_dbfs=-70.0,
                  since_speech_s=None, since_delivery_s=3.0, segments_sent=4, segments_acked=3,
                  segments_dropped=0, segments_quarantined=0, reconnects=1, thread_errors=0,
                  spool_depth=1, spool_bytes=32000, spool_oldest_age_s=0.5,
                  disk_free_bytes=None, settings_version=2,
                  recent=(RecentUtterance("pi-1:r:1", "audio", 0, 7, 1200, 1_700_000_000_000),))
    values.update(changes)
    return HealthReport(**values)  # type: ignore[arg-type]


def test_a_report_survives_json_and_avro() -> None:
    sent = report()
    assert HealthReport.decode(sent.encode()) == sent
    health = DeviceHealth(sent, "gw-1", sent.sent_at_ms + 1500)
    assert decode_health(encode_health(health)) == health
    assert health.clock_skew_ms == -1500


@pytest.mark.parametrize(("field", "value", "says"), [
    ("mic_open", "yes", "mic_open must be true or false"),
    ("segments_sent", -1, "segments_sent must be a non-negative integer"),
    ("level_rms_dbfs", "loud", "level_rms_dbfs must be a number"),
    ("device_id", "pi 1", "device_id must match"),
    ("reason", "because", "reason must be one of"),
])
def test_a_malformed_field_is_named(field: str, value: object, says: str) -> None:
    body = report().message()
    body[field] = value
    with pytest.raises(BadReport, match=says):
        HealthReport.decode(json.dumps(body).encode())


def test_missing_fields_oversize_and_non_objects_are_refused() -> None:
    body = report().message()
    del body["spool_depth"]
    with pytest.raises(BadReport, match="spool_depth is missing"):
        HealthReport.decode(json.dumps(body).encode())
    with pytest.raises(BadReport, match="limited to"):
        HealthReport.decode(b" " * (MAX_REPORT_BYTES + 1))
    with pytest.raises(BadReport, match="not JSON"):
        HealthReport.decode(b"{")
    with pytest.raises(BadReport, match="recent must be a list of at most"):
        HealthReport.decode(json.dumps({**report().message(),
                                        "recent": [report().message()["recent"][0]] * 6}).encode())


def test_the_reply_and_the_settings_record_round_trip() -> None:
    reply = HealthReply(True, 5, DesiredSettings(3, {"hangover_s": "1.2"}))
    assert HealthReply.decode(reply.encode()) == reply
    assert HealthReply.decode(HealthReply(True, 5).encode()).settings is None
    record = DeviceSettings("pi-1", DesiredSettings(3, {"hangover_s": "1.2"}), "alice", 9)
    assert decode_settings(encode_settings(record)) == record
